/** Helpers for end-to-end tests: run the compiled `dist/upkeep` as a user would. */
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const UPKEEP = resolve(ROOT, "dist/upkeep");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dist/upkeep ARGS` and waits for it. `npm test` builds the binary before the e2e tests. */
export async function upkeep(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<RunResult> {
  if (!existsSync(UPKEEP)) throw new Error(`${UPKEEP} is missing: run \`npm run build\` first`);
  const proc = Bun.spawn([UPKEEP, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return collect(proc);
}

/**
 * Waits for a process spawned with piped stdout and stderr: its exit code and both outputs, read whole.
 * With a `deadline`, a process still running after `ms` is sent `signal` (by its PID) and `timedOut` is set.
 */
export async function collect(
  proc: {
    pid: number;
    stdout: ReadableStream<Uint8Array>;
    stderr: ReadableStream<Uint8Array>;
    exited: Promise<number>;
  },
  deadline?: { ms: number; signal: NodeJS.Signals },
): Promise<RunResult & { timedOut: boolean }> {
  let timedOut = false;
  const timer =
    deadline &&
    setTimeout(() => {
      timedOut = true;
      process.kill(proc.pid, deadline.signal);
    }, deadline.ms);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut };
}

/**
 * A temp folder for the test file (made before its tests, removed after them); the function returned makes
 * a folder of that name in it and returns its path.
 */
export function useTempFolder(prefix: string): (name: string) => string {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `upkeep-${prefix}-`));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return (name) => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
}

/** An unencrypted key pair made by `upkeep release keygen` in `dir`. */
export async function keygenIn(dir: string): Promise<{ key: string; pub: string; dir: string }> {
  const r = await upkeep(["release", "keygen", "--out-dir", dir, "--unencrypted"]);
  if (r.code !== 0) throw new Error(`keygen failed: ${r.stderr}`);
  return { key: join(dir, "upkeep.key"), pub: join(dir, "upkeep.pub"), dir };
}

/** SIGTERM to a process group, then SIGKILL if some of it is still there after 20 s. */
export async function stopGroup(pgid: number): Promise<void> {
  const any = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!any()) return;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {}
  const end = Date.now() + 20_000;
  while (any() && Date.now() < end) await Bun.sleep(100);
  if (any()) process.kill(-pgid, "SIGKILL");
}
