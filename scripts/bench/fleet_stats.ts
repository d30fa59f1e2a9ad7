/**
 * Small measuring helpers of the fleet simulator (scripts/bench/fleet.ts): latency samples and their
 * percentiles, a process's CPU time and memory from /proc, number formatting.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Latency samples in milliseconds (every one kept: a 15-minute run at 3,000 req/s is a few MiB). */
export class Samples {
  #chunks: Float32Array[] = [];
  #cur = new Float32Array(65_536);
  #n = 0;
  count = 0;

  add(ms: number): void {
    if (this.#n === this.#cur.length) {
      this.#chunks.push(this.#cur);
      this.#cur = new Float32Array(65_536);
      this.#n = 0;
    }
    this.#cur[this.#n++] = ms;
    this.count++;
  }

  /** Percentiles (0..100) of everything added, NaN when empty. */
  percentiles(...ps: number[]): number[] {
    if (this.count === 0) return ps.map(() => Number.NaN);
    const all = new Float32Array(this.count);
    let o = 0;
    for (const c of this.#chunks) {
      all.set(c, o);
      o += c.length;
    }
    all.set(this.#cur.subarray(0, this.#n), o);
    all.sort();
    return ps.map((p) => all[Math.min(all.length - 1, Math.floor((p / 100) * all.length))] as number);
  }
}

/** Latencies of one phase, per kind of request. */
export class PhaseStats {
  find = new Samples();
  report = new Samples();
  /** Requests answered with a status other than 2xx, or that failed (connection), per kind. */
  findErrors = 0;
  reportErrors = 0;
  /** How late the generator sent scheduled requests (ms): its own lag, to show it is not the bottleneck. */
  lag = new Samples();
  /** Finds not sent: the agent's previous find was still waiting, or 1,024 finds were in flight. */
  findsSkipped = 0;
  /** Periodic reports folded into one still queued for the same agent (the server could not keep up). */
  reportsCoalesced = 0;
  /** Most reports waiting for a free connection at one time. */
  maxBacklog = 0;
  /** Most requests (finds and reports) in flight at one time: Little's law, rate x latency. */
  maxInFlight = 0;
  errorSample = "";
}

const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
  return Number(r.stdout.toString().trim()) || 100;
})();

/** The fields of /proc/PID/stat after the command (index 0: state, 1: ppid, 11..14: utime, stime, cutime, cstime). */
function statFields(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
}

/** CPU time (user + system, every thread) a process used so far, in ms (/proc/PID/stat, 10 ms ticks). */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** The PIDs whose parent is `pid` (read from /proc: the children alive now). */
export function childPids(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === pid) kids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

/**
 * CPU time of a process and its children so far, in ms: its own, what its children that ended used (cutime and
 * cstime: the parent reaped them) and what its children alive now used. For PostgreSQL's postmaster: every
 * backend, the checkpointer, WAL writer, autovacuum, whether still running or gone.
 */
export function treeCpuMs(pid: number): number {
  const f = statFields(pid);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const kid of childPids(pid)) {
    try {
      const k = statFields(kid);
      ticks += Number(k[11]) + Number(k[12]);
    } catch {
      // ended meanwhile (then counted in the parent's cutime at the next read)
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

/**
 * Memory of a process and its children, in MiB: the sum of their Pss (/proc/PID/smaps_rollup: shared pages
 * divided among the processes sharing them, so PostgreSQL's shared buffers count once).
 */
export function treePssMiB(pid: number): number {
  let kb = 0;
  for (const p of [pid, ...childPids(pid)]) {
    try {
      kb += Number(/^Pss:\s*(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {
      // ended meanwhile
    }
  }
  return kb / 1024;
}

/** Busy time of one CPU so far (user, nice, system, irq, softirq, steal), in ms (/proc/stat). */
export function cpuBusyMs(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  const f = (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, k) => sum + (f[k] ?? 0), 0);
  return (busy * 1000) / CLK_TCK;
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
export function memoryMiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, "m").exec(s)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** Open sockets of a process (its keep-alive connections plus listeners). */
export function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {}
  }
  return n;
}

/** CPU use of a process (or of what `read` counts) over a stretch of time, as a share of one core. */
export class CpuWindow {
  readonly #cpu: () => number;
  readonly #cpu0: number;
  readonly #t0 = performance.now();

  /** `of`: a PID, or a function answering CPU ms used so far. */
  constructor(of: number | (() => number)) {
    this.#cpu = typeof of === "number" ? () => cpuMs(of) : of;
    this.#cpu0 = this.#cpu();
  }

  /** CPU ms used since the start, and wall ms. */
  read(): { cpuMs: number; wallMs: number; share: number } {
    const cpu = this.#cpu() - this.#cpu0;
    const wall = performance.now() - this.#t0;
    return { cpuMs: cpu, wallMs: wall, share: cpu / wall };
  }
}

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString("en-US"),
  ms: (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-"),
  pct: (share: number) => `${(share * 100).toFixed(1)}%`,
  mib: (n: number) => `${n.toFixed(1)} MiB`,
};
