/**
 * A tools dir this user may only read (installed and kept by an administrator, `UPKEEP_TOOLS_DIR` pointing at
 * it): the shim still runs the chosen version; the last-used mark is best effort and cannot stop the tool.
 * Run as root (CI), the tool is started as `nobody` through runuser, since root may write anything.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeMarker } from "../scripts/fake-release.ts";
import { collect, UPKEEP } from "./cli.ts";

const work = mkdtempSync(join(tmpdir(), "upkeep-ro-tools-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
const runuser = Bun.which("runuser");

test.skipIf(isRoot && !runuser)("a read-only tools dir: the pinned version runs", async () => {
  chmodSync(work, 0o755);
  const tools = join(work, "tools");
  mkdirSync(join(tools, "2.0.0", "bin"), { recursive: true });
  writeFileSync(join(tools, "2.0.0", "bin", "hello"), '#!/bin/sh\necho "hello 2.0.0 $*"\n', { mode: 0o555 });
  writeFileSync(join(tools, "2.0.0", ".upkeep-complete"), fakeMarker("2.0.0"), { mode: 0o444 });
  writeFileSync(
    join(tools, "tools.json"),
    JSON.stringify({ trustKeys: [], enrolled: false, pinned: "2.0.0" }),
    {
      mode: 0o444,
    },
  );
  const shims = join(work, "bin");
  mkdirSync(shims);
  symlinkSync(UPKEEP, join(shims, "hello"));
  for (const d of [join(tools, "2.0.0", "bin"), join(tools, "2.0.0"), tools, shims]) chmodSync(d, 0o555);

  const cmd = [join(shims, "hello"), "a", "b"];
  const r = await collect(
    Bun.spawn(isRoot ? [runuser as string, "-u", "nobody", "--", ...cmd] : cmd, {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", UPKEEP_TOOLS_DIR: tools },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("hello 2.0.0 a b\n");
  expect(r.code).toBe(0);
});
