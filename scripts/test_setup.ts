/**
 * Preloaded by `bun test` (bunfig.toml): the tests, and every process they start, make their temporary
 * folders under one folder per run (TMPDIR), removed when the whole run ends (a hook in a preload file is
 * global), so test runs leave nothing in /tmp.
 */
import { afterAll } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

const run = mkdtempSync(join(process.env.TMPDIR || "/tmp", "upkeep-test-run-"));
// Traversable (each test's own folder inside is still 0700): a test that runs a tool as another user needs it.
chmodSync(run, 0o755);
process.env.TMPDIR = run;
afterAll(() => rmSync(run, { recursive: true, force: true }));
