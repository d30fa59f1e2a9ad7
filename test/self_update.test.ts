/**
 * `upkeep self-update` end to end: two builds stamped with different versions (scripts/build.ts --version,
 * signed with a test key given at build time only), upkeep's own release published on a real serve with
 * `admin publish`, the version named by the server (`kind: server` `updater_version`). The executable is
 * replaced in place; a normal build never trusts the test key; a place managed by a package or not writable
 * is refused with nothing changed.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSelfRelease } from "../core/sys/self/self_release.ts";
import { adminOk, buildUpkeep, STACK, useWorld, type World } from "./agent_helpers.ts";
import { collect, keygenIn, UPKEEP } from "./cli.ts";

let w: World;
useWorld("selfupd", async (world) => {
  w = world;
});

let testKey: { key: string; pub: string };
let oldBuild: string;
let newBuild: string;

beforeAll(async () => {
  testKey = await keygenIn(join(w.dir, "upkeep-test-key"));
  oldBuild = join(w.dir, "builds", "old", "upkeep");
  newBuild = join(w.dir, "builds", "new", "upkeep");
  await buildUpkeep("0.9.0", oldBuild, testKey.pub);
  await buildUpkeep("1.0.0", newBuild, testKey.pub);
  const out = join(w.dir, "upkeep-release");
  await writeSelfRelease({
    out,
    key: testKey.key,
    executables: [{ path: newBuild, version: "1.0.0", os: "linux", arch: "amd64" }],
    serial: 10,
  });
  await adminOk(w, ["publish", ...readdirSync(out).map((f) => join(out, f))]);
  await adminOk(w, ["apply", "-f", "-"], "kind: server\nupdater_version: 1.0.0\n");
}, 120_000);

/** A copy of `exe` in a new folder (a workstation's install), made traversable for other users. */
function install(exe: string, name: string): string {
  const dir = join(w.dir, "ws", name);
  mkdirSync(dir, { recursive: true });
  for (const d of [w.dir, join(w.dir, "ws"), dir]) chmodSync(d, 0o755);
  const path = join(dir, "upkeep");
  copyFileSync(exe, path);
  chmodSync(path, 0o755);
  return path;
}

async function run(exe: string, args: string[], env: Record<string, string> = {}, as?: string) {
  const cmd = as ? ["runuser", "-u", as, "--", exe, ...args] : [exe, ...args];
  return collect(
    Bun.spawn(cmd, {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(w.dir, "home"), ...env },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
}

const versionOf = async (exe: string) => (await run(exe, ["--version"])).stdout.trim();

describe("upkeep self-update", () => {
  test("the server's updater_version replaces the running executable in place; then it is up to date", async () => {
    const exe = install(oldBuild, "a");
    expect(await versionOf(exe)).toBe("upkeep 0.9.0");
    const r = await run(exe, ["self-update", "--server", w.url, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      path: exe,
      from: "0.9.0",
      to: "1.0.0",
      updated: true,
      serial: 10,
    });
    expect(await versionOf(exe)).toBe("upkeep 1.0.0");
    expect(readFileSync(exe)).toEqual(readFileSync(newBuild));
    expect(readdirSync(join(exe, ".."))).toEqual(["upkeep"]); // nothing staged is left beside it
    const again = await run(exe, ["self-update", "--server", w.url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("upkeep 1.0.0 is up to date");
  });

  test("--check says what would be done and changes nothing", async () => {
    const exe = install(oldBuild, "check");
    const r = await run(exe, ["self-update", "--server", w.url, "--check"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("upkeep 1.0.0 would replace 0.9.0");
    expect(await versionOf(exe)).toBe("upkeep 0.9.0");
  });

  test("a normal build never trusts the test key: the release is refused, nothing changes", async () => {
    const exe = install(UPKEEP, "normal");
    const before = readFileSync(exe);
    const r = await run(exe, ["self-update", "--server", w.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(E_SIGNATURE)");
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(exe)).toEqual(before);
    expect(readdirSync(join(exe, ".."))).toEqual(["upkeep"]);
  });

  test("an executable managed by a package (dpkg -S owns it) is refused, naming the package", async () => {
    const exe = install(oldBuild, "pkg");
    // A package database that owns exactly this file (the real dpkg is asked for every other path).
    const bin = join(w.dir, "fake-dpkg");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "dpkg"),
      `#!/bin/sh\n[ "$1" = "-S" ] && [ "$2" = "${exe}" ] && { echo "upkeep: ${exe}"; exit 0; }\necho "dpkg-query: no path found matching pattern $2" >&2\nexit 1\n`,
      { mode: 0o755 },
    );
    const r = await run(exe, ["self-update", "--server", w.url], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${exe} is managed by the Debian package upkeep (dpkg -S ${exe}): update it with apt`,
    );
    expect(r.stderr).toContain("(E_CONFLICT)");
    expect(await versionOf(exe)).toBe("upkeep 0.9.0");
  });

  const isRoot = process.getuid?.() === 0;
  test.skipIf(isRoot && !Bun.which("runuser"))(
    "a place this user may not write is refused before anything is downloaded",
    async () => {
      const exe = install(oldBuild, "ro");
      if (!isRoot) chmodSync(join(exe, ".."), 0o555);
      const r = await run(
        exe,
        ["self-update", "--server", w.url],
        { HOME: "/nonexistent" },
        isRoot ? "nobody" : undefined,
      );
      if (!isRoot) chmodSync(join(exe, ".."), 0o755);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot replace ${exe}: this user`);
      expect(r.stderr).toContain("(E_IO)");
      expect(await versionOf(exe)).toBe("upkeep 0.9.0");
      expect(readdirSync(join(exe, ".."))).toEqual(["upkeep"]);
    },
  );

  test("with updater_version off the server names none: nothing to do", async () => {
    await adminOk(w, ["apply", "-f", "-"], 'kind: server\nupdater_version: "off"\n');
    try {
      const exe = install(oldBuild, "off");
      const r = await run(exe, ["self-update", "--server", w.url]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("names no upkeep version");
      expect(await versionOf(exe)).toBe("upkeep 0.9.0");
    } finally {
      await adminOk(w, ["apply", "-f", "-"], "kind: server\nupdater_version: 1.0.0\n");
    }
  });
});
