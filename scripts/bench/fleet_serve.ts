/**
 * The `upkeep serve` under test of the fleet simulator (scripts/bench/fleet.ts): started on loopback with
 * its own data dir, optionally pinned to one CPU (`taskset`), stopped by its PID (SIGTERM, or SIGKILL for
 * the durability check), restarted on the same port and data dir.
 *
 * Not test/serve_process.ts: the benchmark runs any build (`--upkeep PATH`, or a command such as
 * `bun --cpu-prof main.ts` to profile serve from source), pins it, and restarts it on the same port after a
 * kill -9; it also keeps only the tail of serve's log, which a long run at 100,000 agents would grow.
 */
import type { Subprocess } from "bun";

export interface ServeSpec {
  /** The command that runs upkeep, e.g. ["/path/dist/upkeep"] or ["bun", "--cpu-prof", "main.ts"]. */
  command: string[];
  dataDir: string;
  config: string;
  /** Extra arguments after `serve` (e.g. `--agent-retention 30d` on a build that has it). */
  args: string[];
  env: Record<string, string>;
  /** CPU list for `taskset -c` (e.g. "0"), or undefined: not pinned. */
  cpus: string | undefined;
  cwd: string;
}

export class ServeProc {
  readonly spec: ServeSpec;
  readonly proc: Subprocess<"ignore", "ignore", "pipe">;
  readonly pid: number;
  url = "";
  port = 0;
  #log = "";

  private constructor(spec: ServeSpec, port: number) {
    this.spec = spec;
    const listen = ["--listen", `127.0.0.1:${port}`, "--data-dir", spec.dataDir, "--config", spec.config];
    const cmd = [...spec.command, "serve", ...listen, ...spec.args];
    this.proc = Bun.spawn(spec.cpus === undefined ? cmd : ["taskset", "-c", spec.cpus, ...cmd], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    // taskset execs the command: the PID is serve's own.
    this.pid = this.proc.pid;
    void this.#collect();
  }

  async #collect(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.proc.stderr) {
      this.#log += dec.decode(chunk, { stream: true });
      if (this.#log.length > 256 * 1024) this.#log = this.#log.slice(-64 * 1024);
    }
  }

  /** The last lines serve printed (for error messages). */
  logTail(lines = 15): string {
    return this.#log.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Starts serve (port 0: a free one) and waits until it listens and `/readyz` answers 200. */
  static async start(spec: ServeSpec, port = 0, timeoutMs = 600_000): Promise<ServeProc> {
    const s = new ServeProc(spec, port);
    const deadline = Date.now() + timeoutMs;
    while (!s.url) {
      const m = /listening url=(http\S+)/.exec(s.#log) ?? /"url":"(http[^"]+)"/.exec(s.#log);
      if (m) s.url = m[1] as string;
      else if (s.proc.exitCode !== null || s.proc.signalCode !== null)
        throw new Error(`upkeep serve exited ${s.proc.exitCode ?? s.proc.signalCode}:\n${s.logTail()}`);
      else if (Date.now() > deadline) {
        await s.kill();
        throw new Error(`upkeep serve did not start within ${timeoutMs / 1000} s:\n${s.logTail()}`);
      } else await Bun.sleep(20);
    }
    s.port = Number(new URL(s.url).port);
    for (;;) {
      const r = await fetch(`${s.url}/readyz`).catch(() => undefined);
      const ok = r?.ok === true;
      await r?.arrayBuffer();
      if (ok) break;
      if (Date.now() > deadline) {
        await s.kill();
        throw new Error(`upkeep serve is not ready within ${timeoutMs / 1000} s:\n${s.logTail()}`);
      }
      await Bun.sleep(50);
    }
    return s;
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM (serve drains and exits 0); SIGKILL after 20 s. Returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.alive()) {
      process.kill(this.pid, "SIGTERM");
      const t = setTimeout(() => this.alive() && process.kill(this.pid, "SIGKILL"), 20_000);
      await this.proc.exited;
      clearTimeout(t);
    }
    return this.proc.exitCode;
  }

  /** kill -9: nothing of serve runs after this (no drain, no flush). */
  async kill(): Promise<void> {
    if (this.alive()) process.kill(this.pid, "SIGKILL");
    await this.proc.exited;
  }

  /** The same serve again: same command, data dir and port (after `kill` or `stop`). */
  restart(timeoutMs?: number): Promise<ServeProc> {
    return ServeProc.start(this.spec, this.port, timeoutMs);
  }
}

/** Pins this process (every thread) to a CPU list; false when `taskset` is missing or refuses. */
export function pinSelf(cpus: string): boolean {
  if (!Bun.which("taskset")) return false;
  const r = Bun.spawnSync(["taskset", "-a", "-p", "-c", cpus, String(process.pid)], {
    stdout: "ignore",
    stderr: "ignore",
  });
  return r.exitCode === 0;
}
