/** Starts the compiled `upkeep serve` on a free loopback port and stops it by its PID. */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { UPKEEP } from "./cli.ts";
import { type Postgres, pgSkip, startPostgres } from "./pg_harness.ts";

export interface ServeProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed on stdout so far (the admin token on first start). */
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then wait; returns the exit code. */
  stop: () => Promise<number>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.text += dec.decode(chunk, { stream: true });
}

export async function startServe(
  dataDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const proc = Bun.spawn([UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { text: "" };
  const err = { text: "" };
  void collect(proc.stdout, out);
  void collect(proc.stderr, err);
  const deadline = Date.now() + 10_000;
  let url = "";
  while (!url) {
    const m = /listening url=(http\S+)/.exec(err.text) ?? /"url":"(http[^"]+)"/.exec(err.text);
    if (m) url = m[1] as string;
    else if (proc.exitCode !== null) throw new Error(`upkeep serve exited ${proc.exitCode}: ${err.text}`);
    else if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`upkeep serve did not start: ${err.text}`);
    } else await Bun.sleep(20);
  }
  return {
    url,
    proc,
    stdout: () => out.text,
    stderr: () => err.text,
    stop: async () => {
      if (proc.exitCode === null) process.kill(proc.pid, "SIGTERM");
      return await proc.exited;
    },
  };
}

/**
 * For a test file of `serve --store postgres://...`: a throwaway PostgreSQL (pg_harness.ts) started before
 * its tests; the serves and temp dirs it makes through this stopped and removed after them, then PostgreSQL.
 * `skip`: no PostgreSQL here (pgSkip: said once on stderr; under CI it throws).
 */
export function usePgServes(file: string, env: Record<string, string>) {
  const skip = pgSkip(file);
  const started: ServeProcess[] = [];
  const dirs: string[] = [];
  let pg: Postgres | undefined;
  beforeAll(async () => {
    if (!skip) pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    for (const s of started) if (s.proc.exitCode === null) await s.stop();
    await pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    skip,
    /** The PostgreSQL (inside tests that do not skip). */
    pg: () => pg as Postgres,
    /** A temp dir, removed after the file's tests. */
    tmp(prefix: string): string {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    /** `upkeep serve` on `dir` with the file's env (and `extra`), stopped after the file's tests. */
    async serve(dir: string, args: string[] = [], extra: Record<string, string> = {}): Promise<ServeProcess> {
      const s = await startServe(dir, args, { ...env, ...extra });
      started.push(s);
      return s;
    },
  };
}
