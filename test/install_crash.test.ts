/**
 * Crash safety of installVersion: a child process (test/install_child.ts) is killed with SIGKILL at each
 * step (UPKEEP_FAULT=install:<step>). After each kill no folder is taken for a complete version unless it
 * is one, and a rerun completes (resuming the download where one was left).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cleanVersionsDir,
  currentPlatform,
  INSTALL_STEPS,
  listInstalledVersions,
} from "../core/sys/install/mod.ts";
import { writeKeyPair } from "../core/sys/keys.ts";
import { formatArtifactName } from "../core/trust/artifact_name.ts";
import { makeFakeRelease } from "../scripts/fake-release.ts";
import { type Host, startHost, walk } from "./install_helpers.ts";

const ROOT = mkdtempSync(join(tmpdir(), "upkeep-install-crash-"));
const CHILD = join(import.meta.dir, "install_child.ts");
let host: Host;
let pub: string;
const P = currentPlatform();
const NAME = formatArtifactName({
  product: "hello",
  edition: "oss",
  version: "1.0.0",
  os: P.os,
  arch: P.arch,
  fips: false,
});

beforeAll(async () => {
  const k = await writeKeyPair(join(ROOT, "keys"));
  pub = k.publicKeyPath;
  // 3 MiB of padding: the download takes several chunks, so a kill mid-download leaves a partial .part.
  await makeFakeRelease({ out: join(ROOT, "www/r"), versions: ["1.0.0"], key: k.secretKeyPath, sizeMb: 3 });
  host = await startHost(join(ROOT, "www"));
});

afterAll(async () => {
  await host?.stop();
  rmSync(ROOT, { recursive: true, force: true });
});

async function child(versionsDir: string, fault?: string): Promise<{ signal: string | null; out: string }> {
  const args = {
    baseUrl: `${host.url}/r`,
    pub,
    version: "1.0.0",
    versionsDir,
    workDir: join(versionsDir, ".."),
  };
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.UPKEEP_FAULT;
  if (fault) env.UPKEEP_FAULT = fault;
  const p = Bun.spawn([process.execPath, CHILD, JSON.stringify(args)], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return { signal: p.signalCode === null ? null : String(p.signalCode), out };
}

/** Every version folder listed is complete and whole; none is listed before the commit point. */
function checkNoFalseVersion(versionsDir: string, committed: boolean): void {
  const listed = listInstalledVersions(versionsDir);
  for (const v of listed) {
    expect(v.complete).toBe(true);
    expect(walk(v.dir)).toEqual([
      ".upkeep-artifact",
      ".upkeep-complete",
      "README",
      "bin",
      "bin/hello",
      "share",
      "share/pad.bin",
    ]);
    expect(statSync(join(v.dir, "share/pad.bin")).size).toBe(3 * 1024 * 1024);
  }
  expect(listed.map((v) => v.name)).toEqual(committed ? ["1.0.0"] : []);
}

describe("SIGKILL at each install step, then a rerun", () => {
  for (const step of INSTALL_STEPS) {
    test(step, async () => {
      const versionsDir = join(ROOT, `case-${step}`, "versions");
      mkdirSync(versionsDir, { recursive: true });
      const killed = await child(versionsDir, `install:${step}`);
      expect(killed.signal).toBe("SIGKILL");
      expect(killed.out).toBe("");
      const committed = INSTALL_STEPS.indexOf(step) >= INSTALL_STEPS.indexOf("renamed");
      checkNoFalseVersion(versionsDir, committed);
      const i = INSTALL_STEPS.indexOf(step);
      const temps = readdirSync(versionsDir).filter((n) => n.startsWith(".tmp-"));
      if (i >= INSTALL_STEPS.indexOf("mid-extract") && i <= INSTALL_STEPS.indexOf("marker")) {
        // A temp folder is there, complete or not (after "marker" it even has the marker): never a version.
        expect(temps.length).toBeGreaterThan(0);
        if (step === "marker")
          expect(existsSync(join(versionsDir, temps[0] ?? "", ".upkeep-complete"))).toBe(true);
      } else expect(temps).toEqual([]);
      const part = join(versionsDir, `.download-${NAME}.part`);
      if (step === "mid-download") {
        expect(existsSync(part)).toBe(true);
        expect(statSync(part).size).toBeLessThan(statSync(join(ROOT, "www/r", NAME)).size);
      }

      const before = host.requests.length;
      const rerun = await child(versionsDir);
      expect(rerun.signal).toBeNull();
      const r = JSON.parse(rerun.out);
      expect(r).toMatchObject({ ok: true, dir: join(versionsDir, "1.0.0"), reused: committed });
      checkNoFalseVersion(versionsDir, true);
      const artifactRequests = host.requests.slice(before).filter((q) => q.path === `/r/${NAME}`);
      if (step === "mid-download") expect(artifactRequests[0]?.range).toMatch(/^bytes=\d+-$/);
      if (committed) expect(artifactRequests).toEqual([]);

      // What the crash left (temp folders, the .part) went with the rerun: nothing of ours stays but the version.
      expect(readdirSync(versionsDir)).toEqual(["1.0.0"]);
      expect(cleanVersionsDir(versionsDir, ["1.0.0"])).toEqual([]);
      const out = Bun.spawnSync([join(versionsDir, "1.0.0/bin/hello"), "version"]);
      expect(out.stdout.toString().trim()).toBe("hello v1.0.0");
    });
  }
});
