/**
 * scripts/build.ts stamps the version (`--version V` or UPKEEP_BUILD_VERSION): two builds can be told apart,
 * as the self-update tests need. A bad version is refused before anything is built.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, ROOT } from "./cli.ts";

const work = mkdtempSync(join(tmpdir(), "upkeep-build-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function build(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "scripts/build.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return collect(proc);
}

async function versionOf(exe: string): Promise<string> {
  const r = await collect(Bun.spawn([exe, "--version"], { stdout: "pipe", stderr: "pipe" }));
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

test("two builds stamped with different versions print them (--version and the env variable)", async () => {
  const a = join(work, "a", "upkeep");
  const b = join(work, "b", "upkeep");
  const ra = await build(["--version", "v7.1.0", "--outfile", a]);
  expect(ra.code, ra.stderr).toBe(0);
  expect(ra.stdout).toContain("(version 7.1.0)");
  const rb = await build(["--outfile", b], { UPKEEP_BUILD_VERSION: "7.2.0-rc.1" });
  expect(rb.code, rb.stderr).toBe(0);
  expect(await versionOf(a)).toBe("upkeep 7.1.0");
  expect(await versionOf(b)).toBe("upkeep 7.2.0-rc.1");
  // The CLI's own --version (commander) says the same.
  const r = await collect(Bun.spawn([a, "-V"], { stdout: "pipe", stderr: "pipe" }));
  expect(r.stdout.trim()).toBe("upkeep 7.1.0");
}, 120_000);

test("a version that is not semver, or a test key that is not a public key, builds nothing", async () => {
  const out = join(work, "bad", "upkeep");
  const r = await build(["--version", "seven", "--outfile", out]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--version seven: not a semver version");
  const k = await build(["--test-self-key", join(ROOT, "package.json"), "--outfile", out]);
  expect(k.code).toBe(2);
  expect(k.stderr).toContain("is not a minisign public key");
  expect(existsSync(out)).toBe(false);
}, 60_000);
