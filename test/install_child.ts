/**
 * Runs one installVersion in its own process, for the crash-safety tests (test/install.test.ts): the test
 * sets UPKEEP_FAULT=install:<step> and this process dies by SIGKILL at that step.
 *
 *     bun test/install_child.ts '{"baseUrl":"http://127.0.0.1:P","pub":"KEY.pub","version":"1.0.0",
 *                                 "versionsDir":"DIR","workDir":"DIR"}'
 * Prints `{"ok":true,"dir":...,"reused":...}` or `{"ok":false,"code":...,"message":...}`.
 */

import { currentPlatform, fetchVerifiedManifest, installVersion } from "../core/sys/install/mod.ts";
import { loadTrustedKeys } from "../core/sys/keys.ts";

interface Args {
  baseUrl: string;
  pub: string;
  version: string;
  versionsDir: string;
  workDir: string;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
try {
  const source = { baseUrl: args.baseUrl, product: "hello", trustedKeys: await loadTrustedKeys([args.pub]) };
  const manifest = await fetchVerifiedManifest(source, { now: new Date(), workDir: args.workDir });
  const r = await installVersion({
    source,
    manifest,
    version: args.version,
    platform: currentPlatform(),
    versionsDir: args.versionsDir,
  });
  console.log(JSON.stringify({ ok: true, ...r }));
} catch (e) {
  const err = e as { code?: string; message?: string };
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }));
  process.exitCode = 1;
}
