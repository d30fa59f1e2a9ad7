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
import { DEFAULT_INTERVAL, formatPassResult } from "../../agent/mod.ts";
import { MAX_TIMER_MS, tryParseDuration } from "../../duration.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { faultPause } from "../fault.ts";
import { acquireLock } from "../lock.ts";
import { askLoop, type ControlRequest, type ControlResponse, listenControl } from "./control.ts";
import { JitterGate } from "./jitter_gate.ts";
import type { Layout } from "./layout.ts";
import { defaultBackend, openSession, opPin, opRollback } from "./ops.ts";
import type { ServiceBackend } from "./service.ts";
import { readState } from "./state_store.ts";
import { Supervisor, stopOrphan } from "./supervise.ts";

export interface LoopOptions {
  layout: Layout;
  /** Time between passes; undefined: the interval update.yaml stores (read again before each wait). */
  intervalMs?: number;
  log: (msg: string) => void;
  /** Graceful stop timeout of the daemon before SIGKILL. */
  graceMs?: number;
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
  try {
    await runLocked(o);
  } finally {
    runLock.release();
  }
}

async function runLocked(o: LoopOptions): Promise<void> {
  const l = o.layout;
  const log = o.log;
  let state = await readState(l);
  const ac = new AbortController();
  let supervisor: Supervisor | undefined;
  let backend: ServiceBackend;
  if (state.spec.service === "supervise") {
    supervisor = new Supervisor({
      command: () => [join(l.current, "bin", state.spec.daemon), ...state.spec.daemonArgs],
      pidFile: l.daemonPid,
      graceMs: o.graceMs ?? 10_000,
      log: (m) => log(m),
    });
    backend = supervisor;
  } else backend = defaultBackend(state);

  let chain: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => {});
    return p;
  };
  const withSession = <T>(what: string, fn: (s: Awaited<ReturnType<typeof openSession>>) => Promise<T>) =>
    enqueue(async () => {
      const s = await openSession(l, {
        what,
        log,
        service: () => backend,
        signal: ac.signal,
        waitMs: 10 * 60_000,
      });
      try {
        state = s.updater.state;
        return await fn(s);
      } finally {
        state = s.updater.state;
        s.close();
      }
    });

  // Start: stop a daemon orphaned by a killed agent, recovery under the lock, start ours.
  if (supervisor) {
    const orphan = await stopOrphan(l.daemonPid, o.graceMs ?? 10_000);
    if (orphan) log(`stopped daemon pid ${orphan} left by a previous agent`);
  }
  await withSession("agent run (start)", async () => {
    if (supervisor) {
      if (existsSync(join(l.current, "bin", state.spec.daemon))) supervisor.start();
      else log(`nothing to run yet: ${join(l.current, "bin", state.spec.daemon)} does not exist`);
    }
  });

  const pass = (now: boolean) =>
    withSession("agent run (pass)", async (s) => {
      const r = await s.updater.pass({ now, waitJitter: gate.defer });
      log(`pass: ${formatPassResult(r)}`);
      if (
        supervisor &&
        !ac.signal.aborted &&
        s.updater.state.status.active &&
        supervisor.pid === 0 &&
        !supervisorStarted(supervisor)
      )
        supervisor.start();
      return r;
    });
  // The server's jitter is waited out here, between passes, with no lock held; a pass without jitter
  // follows it (jitter_gate.ts).
  const gate = new JitterGate({
    onStart: (w) =>
      log(
        `waiting ${Math.round(w.ms / 1000)}s of jitter (until ${w.until.toISOString()}) before updating to ${w.to}; \`upkeep agent update --now\` skips it`,
      ),
    onOver: (w) => {
      if (ac.signal.aborted) return;
      log(`the jitter before updating to ${w.to} is over: a pass now`);
      void pass(true).catch((e) => log(`pass failed: ${e instanceof Error ? e.message : String(e)}`));
    },
  });
  /** `agent update --now`, SIGUSR1: the jitter wait in progress is dropped, the pass runs at once. */
  const passNow = (why: string) => {
    const cut = gate.cancel();
    if (cut) log(`the jitter wait before updating to ${cut.to} was cut short by ${why}`);
    return pass(true);
  };

  let stopResolve: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stopResolve = r;
  });
  const shutdown = (why: string) => {
    if (ac.signal.aborted) return;
    log(`stopping (${why})`);
    ac.abort();
    gate.cancel();
    stopResolve();
  };

  const handle = async (req: ControlRequest): Promise<ControlResponse> => {
    switch (req.cmd) {
      case "ping":
        return { ok: true, pid: process.pid };
      case "update":
        return {
          ok: true,
          pid: process.pid,
          result: req.now === true ? await passNow("`agent update --now`") : await pass(false),
        };
      case "pin":
        return {
          ok: true,
          pid: process.pid,
          result: await withSession("agent pin", (s) => opPin(s.updater, req.version)),
        };
      case "rollback":
        return {
          ok: true,
          pid: process.pid,
          result: await withSession("agent rollback", (s) => opRollback(s.updater)),
        };
      case "stop":
        setTimeout(() => shutdown("stop requested"), 10);
        return { ok: true, pid: process.pid };
      default:
        return {
          ok: false,
          error: {
            code: "E_USAGE",
            message: `unknown request ${JSON.stringify((req as { cmd?: unknown }).cmd)}`,
          },
        };
    }
  };
  await faultPause("agent:loop-before-listen");
  const control = await listenControl(l.socket, handle);
  // --interval, else the one `enable` stored (a later `enable --interval` applies from the next wait).
  const intervalMs = () =>
    Math.min(
      o.intervalMs ??
        Math.max(tryParseDuration(state.spec.interval) ?? tryParseDuration(DEFAULT_INTERVAL) ?? 300_000, 100),
      MAX_TIMER_MS, // a longer timer would fire at once, and the loop would spin
    );
  log(
    `agent run: pid ${process.pid}, namespace ${l.root}, service ${state.spec.service}, every ${intervalMs() / 1000}s${o.intervalMs === undefined ? ` (update.yaml: interval ${state.spec.interval})` : ""}`,
  );

  const onTerm = () => shutdown("SIGTERM");
  const onInt = () => shutdown("SIGINT");
  const onUsr1 = () => void passNow("SIGUSR1").catch((e) => log(`pass failed: ${String(e)}`));
  const onHup = () => supervisor?.signal("SIGHUP");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  process.on("SIGUSR1", onUsr1);
  process.on("SIGHUP", onHup);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      await pass(false);
    } catch (e) {
      log(`pass failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!ac.signal.aborted) timer = setTimeout(tick, intervalMs());
  };
  void tick();

  await stopped;
  if (timer) clearTimeout(timer);
  control.stop();
  // Let a pass in flight notice the abort and finish its bookkeeping (bounded).
  await Promise.race([chain, Bun.sleep(15_000)]);
  if (supervisor) await supervisor.stop("SIGTERM");
  process.off("SIGTERM", onTerm);
  process.off("SIGINT", onInt);
  process.off("SIGUSR1", onUsr1);
  process.off("SIGHUP", onHup);
  log("stopped");
}

function supervisorStarted(s: Supervisor): boolean {
  return s.isRunning;
}
