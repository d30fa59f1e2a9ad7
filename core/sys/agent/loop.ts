/**
 * `upkeep agent run`: the long-running loop. With the supervise backend it runs the daemon as its child
 * (restart on exit with backoff, SIGTERM/SIGINT forwarded as a graceful stop, SIGHUP forwarded); with
 * systemd it only runs passes. A pass runs at start and every interval; `agent update` (control socket)
 * or SIGUSR1 runs one now. Passes never overlap: they queue, and each takes the namespace lock. The
 * server's jitter is waited out between passes, with no lock held (jitter_gate.ts): any command runs
 * meanwhile, and `agent update --now` or SIGUSR1 drops the wait and updates at once.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type AgentState, DEFAULT_INTERVAL, formatPassResult, type PassResult } from "../../agent/mod.ts";
import { MAX_TIMER_MS, tryParseDuration } from "../../duration.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { faultPause, faultPoint } from "../fault.ts";
import { acquireLock } from "../lock.ts";
import { askLoop, type ControlRequest, type ControlResponse, listenControl } from "./control.ts";
import { JitterGate } from "./jitter_gate.ts";
import type { Layout } from "./layout.ts";
import { defaultBackend, openSession, opPin, opRollback } from "./ops.ts";
import { SelfLoop, selfStart } from "./self_loop.ts";
import type { SelfPorts } from "./self_update.ts";
import type { AgentFindAnswer } from "./server_api.ts";
import type { ServiceBackend } from "./service.ts";
import { readState } from "./state_store.ts";
import { ownDaemon, Supervisor, stopOrphan } from "./supervise.ts";

export interface LoopOptions {
  layout: Layout;
  /** Time between passes; undefined: the interval update.yaml stores (read again before each wait). */
  intervalMs?: number;
  log: (msg: string) => void;
  /** Graceful stop timeout of the daemon before SIGKILL. */
  graceMs?: number;
  /** The self-update's build and network (default: the real ones, self_ports.ts). */
  selfPorts?: SelfPorts;
}

const ONE_LOOP_HINT =
  "one loop per namespace: stop it first, or use `upkeep agent update` to ask it for a pass";

export async function runLoop(o: LoopOptions): Promise<void> {
  const l = o.layout;
  const other = await askLoop(l.socket, { cmd: "ping" }, 2000).catch((e) => {
    if (isUpkeepError(e) && e.code === "E_UNAUTHORIZED") throw e;
    return undefined;
  });
  if (other?.ok)
    throw new UpkeepError("E_LOCKED", `an agent run loop already runs for ${l.root} (pid ${other.pid})`, {
      hint: ONE_LOOP_HINT,
    });
  await readState(l); // E_NOT_FOUND with a hint before any file is made
  // Two loops starting together both pass the ping: the run lock (held for the loop's lifetime, taken
  // before anything is stopped or started) lets only one through.
  const runLock = await acquireLock(l.runLockFile, {
    waitMs: 0,
    what: "agent run",
    busy: { who: "another `upkeep agent run` loop", hint: ONE_LOOP_HINT },
  });
  let released = false;
  const releaseRun = () => {
    if (!released) runLock.release();
    released = true;
  };
  try {
    const ports = o.selfPorts ?? (await import("./self_ports.ts")).realSelfPorts();
    // A switch of the updater on trial is judged first (this may hand back to the previous updater).
    const { trialMs } = await selfStart(l, ports, o.log, releaseRun);
    faultPoint(`self:run-start@${ports.running}`);
    await new AgentLoop(o, await readState(l), ports, releaseRun, trialMs).run();
  } finally {
    releaseRun();
  }
}

type Session = Awaited<ReturnType<typeof openSession>>;

/** One loop's life: its daemon (supervise), its pass queue, its jitter gate, its control socket, signals. */
class AgentLoop {
  readonly #o: LoopOptions;
  #state: AgentState;
  readonly #ac = new AbortController();
  readonly #supervisor: Supervisor | undefined;
  readonly #service: ServiceBackend;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stop: () => void = () => {};
  readonly #stopped = new Promise<void>((r) => {
    this.#stop = r;
  });
  /** The server's jitter is waited out here, between passes, with no lock held (jitter_gate.ts). */
  readonly #gate = new JitterGate({
    onStart: (w) =>
      this.#log(
        `waiting ${Math.round(w.ms / 1000)}s of jitter (until ${w.until.toISOString()}) before updating to ${w.to}; \`upkeep agent update --now\` skips it`,
      ),
    onOver: (w) => {
      if (this.#ac.signal.aborted) return;
      this.#log(`the jitter before updating to ${w.to} is over: a pass now`);
      void this.#pass(true).catch((e) => this.#log(`pass failed: ${messageOf(e)}`));
    },
  });

  readonly #self: SelfLoop;
  #control: { stop(why?: string): void } | undefined;
  #handlers: [NodeJS.Signals, () => void][] = [];
  readonly #trialMs: number | undefined;

  constructor(
    o: LoopOptions,
    state: AgentState,
    ports: SelfPorts,
    releaseRunLock: () => void,
    trialMs: number | undefined,
  ) {
    this.#o = o;
    this.#state = state;
    this.#trialMs = trialMs;
    this.#self = new SelfLoop(
      {
        layout: o.layout,
        spec: () => this.#state.spec,
        log: (m) => this.#log(m),
        stopping: () => this.#ac.signal.aborted,
        // Before re-executing in place: nothing of this image may linger (the daemon runs on).
        release: async () => {
          if (this.#timer) clearTimeout(this.#timer);
          this.#gate.cancel();
          this.#control?.stop("the agent run loop is handing over to a new updater");
          for (const [sig, h] of this.#handlers) process.off(sig, h);
          releaseRunLock();
        },
      },
      ports,
    );
    if (state.spec.service === "supervise") {
      const l = o.layout;
      this.#supervisor = new Supervisor({
        command: () => [this.#daemonPath(), ...this.#state.spec.daemonArgs],
        pidFile: l.daemonPid,
        graceMs: o.graceMs ?? 10_000,
        log: (m) => this.#log(m),
      });
    }
    this.#service = this.#supervisor ?? defaultBackend(state);
  }

  #log(m: string): void {
    this.#o.log(m);
  }

  #daemonPath(): string {
    return join(this.#o.layout.current, "bin", this.#state.spec.daemon);
  }

  async run(): Promise<void> {
    await this.#start();
    await faultPause("agent:loop-before-listen");
    const control = await listenControl(this.#o.layout.socket, (req) => this.#handle(req));
    this.#control = control;
    if (this.#trialMs !== undefined) this.#self.armTrial(this.#trialMs);
    this.#log(
      `agent run: pid ${process.pid}, namespace ${this.#o.layout.root}, service ${this.#state.spec.service}, every ${this.#intervalMs() / 1000}s${this.#o.intervalMs === undefined ? ` (update.yaml: interval ${this.#state.spec.interval})` : ""}`,
    );
    const handlers: [NodeJS.Signals, () => void][] = [
      ["SIGTERM", () => this.#shutdown("SIGTERM")],
      ["SIGINT", () => this.#shutdown("SIGINT")],
      ["SIGUSR1", () => void this.#passNow("SIGUSR1").catch((e) => this.#log(`pass failed: ${String(e)}`))],
      ["SIGHUP", () => this.#supervisor?.signal("SIGHUP")],
    ];
    this.#handlers = handlers;
    for (const [sig, h] of handlers) process.on(sig, h);
    void this.#tick();

    await this.#stopped;
    if (this.#timer) clearTimeout(this.#timer);
    control.stop();
    // Let a pass in flight notice the abort and finish its bookkeeping (bounded).
    await Promise.race([this.#chain, Bun.sleep(15_000)]);
    if (this.#supervisor) await this.#supervisor.stop("SIGTERM");
    for (const [sig, h] of handlers) process.off(sig, h);
    this.#log("stopped");
  }

  /** Start: stop a daemon orphaned by a killed agent, recovery under the lock, start ours. */
  async #start(): Promise<void> {
    const sv = this.#supervisor;
    // The daemon this very process started before it re-executed itself (the updater's hand-over) is kept.
    const own = sv ? await ownDaemon(this.#o.layout.daemonPid) : 0;
    if (sv && !own) {
      const orphan = await stopOrphan(this.#o.layout.daemonPid, this.#o.graceMs ?? 10_000);
      if (orphan) this.#log(`stopped daemon pid ${orphan} left by a previous agent`);
    }
    await this.#withSession("agent run (start)", async () => {
      if (!sv) return;
      if (own) sv.adopt(own);
      else if (existsSync(this.#daemonPath())) sv.start();
      else this.#log(`nothing to run yet: ${this.#daemonPath()} does not exist`);
    });
  }

  /** Passes never overlap: they queue, and each takes the namespace lock (a session). */
  #withSession<T>(what: string, fn: (s: Session) => Promise<T>): Promise<T> {
    const p = this.#chain.then(async () => {
      const s = await openSession(this.#o.layout, {
        what,
        log: (m) => this.#log(m),
        service: () => this.#service,
        signal: this.#ac.signal,
        waitMs: 10 * 60_000,
      });
      try {
        this.#state = s.updater.state;
        return await fn(s);
      } finally {
        this.#state = s.updater.state;
        s.close();
      }
    });
    this.#chain = p.catch(() => {});
    return p;
  }

  #pass(now: boolean): Promise<PassResult> {
    let find: AgentFindAnswer | undefined;
    const p = this.#withSession("agent run (pass)", async (s) => {
      const r = await s.updater.pass({ now, waitJitter: this.#gate.defer });
      find = s.updater.lastFind;
      this.#log(`pass: ${formatPassResult(r)}`);
      const sv = this.#supervisor;
      // The first install of a daemon that was not running: start it.
      if (sv && !this.#ac.signal.aborted && s.updater.state.status.active && sv.pid === 0 && !sv.isRunning)
        sv.start();
      return r;
    });
    // Then the updater itself (outside the namespace lock; queued like a pass, so a hand-over never cuts one).
    const after = p.then(
      () => this.#self.afterPass(find, now),
      () => {},
    );
    this.#chain = after.catch((e) => this.#log(`updater: ${messageOf(e)}`));
    return p;
  }

  /** `agent update --now`, SIGUSR1: the jitter wait in progress is dropped, the pass runs at once. */
  #passNow(why: string): Promise<PassResult> {
    const cut = this.#gate.cancel();
    if (cut) this.#log(`the jitter wait before updating to ${cut.to} was cut short by ${why}`);
    return this.#pass(true);
  }

  #shutdown(why: string): void {
    if (this.#ac.signal.aborted) return;
    this.#log(`stopping (${why})`);
    this.#ac.abort();
    this.#gate.cancel();
    this.#self.stop();
    this.#stop();
  }

  async #handle(req: ControlRequest): Promise<ControlResponse> {
    const ok = (result?: unknown): ControlResponse => ({
      ok: true,
      pid: process.pid,
      ...(result === undefined ? {} : { result }),
    });
    switch (req.cmd) {
      case "ping":
        return ok();
      case "update":
        return ok(req.now === true ? await this.#passNow("`agent update --now`") : await this.#pass(false));
      case "pin":
        return ok(await this.#withSession("agent pin", (s) => opPin(s.updater, req.version)));
      case "rollback":
        return ok(await this.#withSession("agent rollback", (s) => opRollback(s.updater)));
      case "stop":
        setTimeout(() => this.#shutdown("stop requested"), 10);
        return ok();
      default:
        return {
          ok: false,
          error: {
            code: "E_USAGE",
            message: `unknown request ${JSON.stringify((req as { cmd?: unknown }).cmd)}`,
          },
        };
    }
  }

  /** --interval, else the one `enable` stored (a later `enable --interval` applies from the next wait). */
  #intervalMs(): number {
    const stored =
      tryParseDuration(this.#state.spec.interval) ?? tryParseDuration(DEFAULT_INTERVAL) ?? 300_000;
    // A longer timer than MAX_TIMER_MS would fire at once, and the loop would spin.
    return Math.min(this.#o.intervalMs ?? Math.max(stored, 100), MAX_TIMER_MS);
  }

  async #tick(): Promise<void> {
    try {
      await this.#pass(false);
    } catch (e) {
      this.#log(`pass failed: ${messageOf(e)}`);
    }
    if (!this.#ac.signal.aborted) this.#timer = setTimeout(() => void this.#tick(), this.#intervalMs());
  }
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
