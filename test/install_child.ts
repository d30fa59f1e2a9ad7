/**
 * Runs one installVersion in its own process, for the crash-safety tests (test/install.test.ts): the test
 * sets UPKEEP_FAULT=install:<step> and this process dies by SIGKILL at that step.
 *
 *     bun test/install_child.ts '{"baseUrl":"http://127.0.0.1:P","pub":"KEY.pub","version":"1.0.0",
 *                                 "versionsDir":"DIR","workDir":"DIR"}'
 * Prints `{"ok":true,"dir":...,"reused":...}` or `{"ok":false,"code":...,"message":...}`. The install
 * itself, installFromServer, is also the child of scripts/bench/install.ts.
 */

import { currentPlatform, fetchVerifiedManifest, installVersion } from "../core/sys/install/mod.ts";
import { loadTrustedKeys } from "../core/sys/keys.ts";

export interface InstallArgs {
  baseUrl: string;
  pub: string;
  version: string;
  versionsDir: string;
  workDir: string;
}

/** One install of product hello from `baseUrl` (its signed manifest, trusting `pub`), as the agent or tools do. */
export async function installFromServer(a: InstallArgs) {
  const source = { baseUrl: a.baseUrl, product: "hello", trustedKeys: await loadTrustedKeys([a.pub]) };
  const manifest = await fetchVerifiedManifest(source, { now: new Date(), workDir: a.workDir });
  return installVersion({
    source,
    manifest,
    version: a.version,
    platform: currentPlatform(),
    versionsDir: a.versionsDir,
  });
}

/** The child: the install of the JSON argument, its outcome printed as one JSON line. */
async function main(): Promise<void> {
  try {
    const r = await installFromServer(JSON.parse(process.argv[2] ?? "{}") as InstallArgs);
    console.log(JSON.stringify({ ok: true, ...r }));
  } catch (e) {
    const err = e as { code?: string; message?: string };
    console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }));
    process.exitCode = 1;
  }
}

// No top-level await: scripts/bench/install.ts bundles this file into its compiled (CommonJS bytecode) child.
if (import.meta.main) void main();
