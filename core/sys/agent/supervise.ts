/**
 * The `supervise` backend: the agent runs the daemon as its child (containers, hosts without systemd,
 * tests). The child is restarted when it exits, with a backoff; SIGTERM/SIGINT are forwarded; a stop is
 * graceful (SIGTERM), then SIGKILL after a timeout. The child's PID is kept in `daemon.pid` so a daemon
 * orphaned by a killed agent is found and stopped by the next one.
 */

import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { restartDelayMs } from "../../agent/health.ts";
import { pidAlive } from "../lock.ts";
import type { DaemonSample, ServiceBackend } from "./service.ts";

export interface SupervisorOptions {
  /** argv of the daemon (resolved at each start, so a switched `current` is picked up). */
  command: () => string[];
  pidFile: string;
  /** Graceful stop timeout before SIGKILL. */
  graceMs: number;
  log: (msg: string) => void;
  /** Uptime after which a crash counts as a fresh failure again (backoff reset). */
  resetAfterMs?: number;
}

/** Start time of a process (Linux: field 22 of /proc/PID/stat), to tell a PID reused by another process. */
function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid) || /^Z/.test(stateOf(pid))) return true;
    await Bun.sleep(25);
  }
  return !pidAlive(pid);
}

function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "";
  }
}

/** The PID and start time written in `pidFile` (`PID START`), or undefined when it cannot be read. */
function readPidFile(pidFile: string): { pid: number; start: string } | undefined {
  let text = "";
  try {
    text = readFileSync(pidFile, "utf8");
  } catch {
    return undefined;
  }
  const [pidText, start = ""] = text.trim().split(/\s+/);
  return { pid: Number(pidText), start };
}

/**
 * Stops a daemon left running by an agent that was killed (its PID in `pidFile`, checked by start time).
 * Returns the PID stopped, or 0.
 */
export async function stopOrphan(pidFile: string, graceMs: number): Promise<number> {
  const read = readPidFile(pidFile);
  if (!read) return 0;
  const { pid, start } = read;
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !pidAlive(pid)) {
    unlinkSilently(pidFile);
    return 0;
  }
  if (start && existsSync("/proc/self/stat") && startTimeOf(pid) !== start) {
    unlinkSilently(pidFile); // the PID belongs to another process now
    return 0;
  }
  try {
    process.kill(pid, "SIGTERM");
  } catch {}
  if (!(await waitGone(pid, graceMs))) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    await waitGone(pid, 2000);
  }
  unlinkSilently(pidFile);
  return pid;
}

function unlinkSilently(p: string) {
  try {
    unlinkSync(p);
  } catch {}
}

/** What the supervisor needs of its child: a Bun subprocess, or one adopted across a re-exec. */
interface Child {
  readonly pid: number;
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
  kill(signal?: NodeJS.Signals | number): void;
}

/**
 * The daemon started by this process before it re-executed itself (same PID, so the daemon is still its
 * child, but no longer a Bun subprocess): watched through /proc, reaped with waitpid(2) when libc is there.
 */
class AdoptedChild implements Child {
  readonly pid: number;
  exitCode: number | null = null;
  signalCode: string | null = null;
  readonly exited: Promise<number>;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(pid: number) {
    this.pid = pid;
    this.exited = new Promise<number>((resolve) => {
      this.#timer = setInterval(() => {
        const status = reap(pid);
        if (status === undefined && pidAlive(pid) && !/^Z/.test(stateOf(pid))) return;
        clearInterval(this.#timer);
        if (status !== undefined && (status & 0x7f) !== 0) this.signalCode = `signal ${status & 0x7f}`;
        this.exitCode = status === undefined ? 0 : (status >> 8) & 0xff;
        resolve(this.exitCode);
      }, 100);
    });
  }

  kill(signal: NodeJS.Signals | number = "SIGTERM"): void {
    if (this.exitCode === null) process.kill(this.pid, signal);
  }
}

type WaitPid = (pid: number, status: Int32Array) => number;
let waitpidFn: WaitPid | null | undefined;

/** Loads waitpid(2) once (adoption is rare); null where there is no libc. */
async function loadWaitpid(): Promise<void> {
  if (waitpidFn !== undefined) return;
  const { openLibc } = await import("../libc.ts");
  const { FFIType, ptr } = await import("bun:ffi");
  const lib = await openLibc({
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  });
  waitpidFn = lib ? (pid, status) => lib.symbols.waitpid(pid, ptr(status), 1 /* WNOHANG */) as number : null;
}

/** The wait status of an exited child (reaped now), or undefined while it runs (or cannot be reaped). */
function reap(pid: number): number | undefined {
  if (!waitpidFn) return undefined;
  const status = new Int32Array(1);
  return waitpidFn(pid, status) === pid ? (status[0] as number) : undefined;
}

/**
 * A daemon left running by this very process before it re-executed itself (the updater's hand-over): its
 * PID from `pidFile`, checked by start time and by being our child. Returns the PID, or 0 when there is none
 * (then the caller stops an orphan as usual).
 */
export async function ownDaemon(pidFile: string): Promise<number> {
  const read = readPidFile(pidFile);
  if (!read) return 0;
  const { pid, start } = read;
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return 0;
  if (start && startTimeOf(pid) !== start) return 0;
  if (parentOf(pid) !== process.pid) return 0;
  await loadWaitpid().catch(() => {
    waitpidFn = null;
  });
  return pid;
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

export class Supervisor implements ServiceBackend {
  readonly kind = "supervise" as const;
  readonly manages = true;
  #o: SupervisorOptions;
  #child: Child | undefined;
  #stopping = false;
  #running = false;
  #restarts = 0;
  #consecutive = 0;
  #startedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastExit = "";

  constructor(o: SupervisorOptions) {
    this.#o = o;
  }

  get pid(): number {
    return this.#child && this.#child.exitCode === null && this.#child.signalCode === null
      ? this.#child.pid
      : 0;
  }

  /** Starts supervising (no-op when running). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#spawn();
  }

  /**
   * Supervises the daemon `pid` this process started before it re-executed itself (ownDaemon): it is not
   * restarted, only watched (and restarted when it exits, as any child).
   */
  adopt(pid: number): void {
    this.#running = true;
    this.#stopping = false;
    this.#watch(new AdoptedChild(pid), `daemon pid ${pid} kept running across the hand-over`);
  }

  #spawn(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    const argv = this.#o.command();
    let child: Child;
    try {
      child = Bun.spawn(argv, { stdin: "ignore", stdout: "inherit", stderr: "inherit" });
    } catch (e) {
      this.#o.log(`cannot start ${argv[0]}: ${e instanceof Error ? e.message : String(e)}`);
      this.#scheduleRestart();
      return;
    }
    try {
      writeFileSync(this.#o.pidFile, `${child.pid} ${startTimeOf(child.pid)}\n`, { mode: 0o600 });
    } catch {}
    this.#watch(child, `daemon started: pid ${child.pid} (${argv.join(" ")})`);
  }

  #watch(child: Child, started: string): void {
    this.#child = child;
    this.#startedAt = Date.now();
    this.#o.log(started);
    void child.exited.then((code) => {
      if (this.#child !== child) return;
      this.#lastExit = child.signalCode ? `signal ${child.signalCode}` : `exit code ${code}`;
      if (this.#stopping || !this.#running) return;
      this.#restarts++;
      if (Date.now() - this.#startedAt > (this.#o.resetAfterMs ?? 60_000)) this.#consecutive = 0;
      this.#consecutive++;
      this.#o.log(
        `daemon pid ${child.pid} exited (${this.#lastExit}); restarting in ${restartDelayMs(this.#consecutive)} ms`,
      );
      this.#scheduleRestart();
    });
  }

  #scheduleRestart(): void {
    if (!this.#running || this.#stopping) return;
    this.#timer = setTimeout(() => this.#spawn(), restartDelayMs(Math.max(1, this.#consecutive)));
  }

  /** Stops the daemon: SIGTERM (or `signal`), then SIGKILL after the grace time. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {}
      const done = await Promise.race([
        child.exited.then(() => true),
        Bun.sleep(this.#o.graceMs).then(() => false),
      ]);
      if (!done) {
        this.#o.log(`daemon pid ${child.pid} did not stop in ${this.#o.graceMs} ms: SIGKILL`);
        try {
          child.kill("SIGKILL");
        } catch {}
        await child.exited;
      }
    }
    unlinkSilently(this.#o.pidFile);
  }

  /** Forwards a signal to the daemon (SIGHUP etc.). */
  signal(sig: NodeJS.Signals): void {
    try {
      this.#child?.kill(sig);
    } catch {}
  }

  async restart(): Promise<void> {
    await this.stop();
    this.#restarts = 0;
    this.#consecutive = 0;
    this.start();
  }

  async sample(): Promise<DaemonSample> {
    return { pid: this.pid, restarts: this.#restarts };
  }

  async healthyNow(): Promise<boolean | undefined> {
    if (!this.#running) return undefined;
    // Unhealthy: not running, or crashed again within a minute of its last start.
    const settled = Date.now() - this.#startedAt > (this.#o.resetAfterMs ?? 60_000);
    return this.pid !== 0 && (this.#consecutive === 0 || settled);
  }

  /** Supervising (the child may be between restarts). */
  get isRunning(): boolean {
    return this.#running;
  }

  get consecutiveFailures(): number {
    return this.#consecutive;
  }
}
