/**
 * Preloaded by `bun test` (bunfig.toml): the tests, and every process they start, make their temporary
 * folders under one folder per run (TMPDIR), removed when the whole run ends (a hook in a preload file is
 * global), so test runs leave nothing in /tmp.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

const run = mkdtempSync(join(process.env.TMPDIR || "/tmp", "upkeep-test-run-"));
process.env.TMPDIR = run;
afterAll(() => rmSync(run, { recursive: true, force: true }));
