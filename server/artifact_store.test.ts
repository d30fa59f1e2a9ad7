/** The local artifact dir: partial uploads left by a crash, alone or shared by replicas. */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalArtifactStore } from "./artifact_store.ts";

function dirWithUploads(): { dir: string; fresh: string; stale: string } {
  const dir = join(mkdtempSync(join(tmpdir(), "upkeep-arts-")), "artifacts");
  mkdirSync(dir);
  const fresh = join(dir, ".upload-fresh");
  const stale = join(dir, ".upload-stale");
  writeFileSync(fresh, "being written by a replica");
  writeFileSync(stale, "left by a crash");
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  utimesSync(stale, twoHoursAgo, twoHoursAgo);
  return { dir, fresh, stale };
}

test("one server removes every partial upload at start", () => {
  const { dir, fresh, stale } = dirWithUploads();
  new LocalArtifactStore(dir);
  expect(existsSync(fresh)).toBe(false);
  expect(existsSync(stale)).toBe(false);
});

test("a replica on a shared dir leaves another replica's upload in progress alone, removes stale ones", () => {
  const { dir, fresh, stale } = dirWithUploads();
  new LocalArtifactStore(dir, { shared: true });
  expect(existsSync(fresh)).toBe(true);
  expect(existsSync(stale)).toBe(false);
});
