/** What the benchmarks share: the median, a free loopback port, stopping a process they started. */
import { createServer } from "node:net";
import type { Subprocess } from "bun";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** A free loopback port (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** Stops `p` (started by the benchmark, by its PID) with `signal`; SIGKILL after `killAfterMs`. */
export async function stop(p: Subprocess, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  const t = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
  await p.exited;
  clearTimeout(t);
}
