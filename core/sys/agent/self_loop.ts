/**
 * The `agent run` loop's side of the self-update (issue 16): the trial check at start, the heartbeat and the
 * self-update after each pass (the server's jitter waited out first), and the hand-over to the new updater:
 *
 * - supervise: the loop lets go of its timers, control socket and run lock, and re-executes itself in place
 *   (exec.ts: same PID), so the daemon stays its child and keeps running; the new image adopts it;
 * - systemd: the agent's unit is pointed at `<install-dir>/updater/current/upkeep` and restarted
 *   (`systemctl restart --no-block upkeep-agent.service`); the daemon's unit is not touched.
 *
 * The new updater is on trial: a timer restores the previous one when no pass completed within 60 s of the
 * switch (a hang); a second start without a heartbeat restores it too (planSelfStart).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { planSelfStart, restorePlan, type SelfDecision } from "../../agent/mod.ts";
import { agentUnit, agentUnitName } from "../../agent/systemd.ts";
import type { AgentSpec } from "../../agent/types.ts";
import { sameVersion } from "../../version/same_version.ts";
import { faultPause, faultPoint } from "../fault.ts";
import { switchSymlink } from "../install/mod.ts";
import { execInPlace, ownArgs } from "./exec.ts";
import type { Layout } from "./layout.ts";
import {
  currentSelfVersion,
  readSelfState,
  type SelfLayout,
  selfBinary,
  selfLayout,
  withSelfLock,
  writeHeartbeat,
  writeSelfState,
} from "./self_layout.ts";
import { decideSelf, type SelfPorts, selfUpdate } from "./self_update.ts";
import type { AgentFindAnswer } from "./server_api.ts";
import { ExecSystemctl, type Systemctl, systemctlMust, writeUnits } from "./systemd.ts";

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * At the start of `agent run`, before anything else: a switch of the updater left on trial is judged. Returns
 * the remaining trial time when this updater is on trial; re-executes the previous updater when the trial
 * failed and it is not the one running.
 */
export async function selfStart(
  l: Layout,
  ports: SelfPorts,
  log: (m: string) => void,
  beforeExec: () => void = () => {},
): Promise<{ trialMs?: number }> {
  const sl = selfLayout(l.installDir);
  if (!existsSync(sl.stateFile)) return {};
  const r = await withSelfLock(l.installDir, async (): Promise<{ trialMs?: number; execTo?: string }> => {
    const state = await readSelfState(sl, log);
    const plan = planSelfStart({
      state,
      running: ports.running,
      namespace: l.namespace,
      current: currentSelfVersion(sl),
      now: ports.now(),
    });
    switch (plan.action) {
      case "none":
        return {};
      case "undo":
        await writeSelfState(sl, plan.state);
        log(`updater: ${plan.state.lastResult}`);
        return {};
      case "trial":
        await writeSelfState(sl, plan.state);
        log(
          `updater ${ports.running} is on trial: it must complete a pass within ${Math.round(plan.remainingMs / 1000)}s`,
        );
        return { trialMs: plan.remainingMs };
      case "restore": {
        await restore(sl, plan, log);
        return sameVersion(plan.to, ports.running) ? {} : { execTo: selfBinary(sl, plan.to) };
      }
    }
  });
  if (r.execTo) {
    log(`updater: handing back to ${r.execTo}`);
    beforeExec();
    await execInPlace(r.execTo, [r.execTo, ...ownArgs()], process.env);
  }
  return r.trialMs === undefined ? {} : { trialMs: r.trialMs };
}

/** Points `current` back at the previous updater, records the skip and the failure. */
async function restore(
  sl: SelfLayout,
  plan: ReturnType<typeof restorePlan>,
  log: (m: string) => void,
): Promise<void> {
  // The verdict first (a restore cut short is finished by the next start, whichever updater that is), then
  // `current` back, then the state without the intent.
  const before = await readSelfState(sl);
  if (before.updating && !before.updating.restoring) {
    await writeSelfState(sl, { ...before, updating: { ...before.updating, restoring: plan.reason } });
    faultPoint("self:after-restore-intent");
  }
  if (plan.to && existsSync(selfBinary(sl, plan.to))) {
    await switchSymlink(sl.current, join("versions", plan.to));
    faultPoint("self:after-restore-switch");
  }
  await writeSelfState(sl, plan.state);
  log(`updater: ${plan.state.lastResult}`);
}

export interface SelfLoopHost {
  layout: Layout;
  spec(): AgentSpec;
  log(m: string): void;
  /** Lets go of what must not outlive this image (timers, control socket, run lock); the daemon runs on. */
  release(): Promise<void>;
  /** The loop is stopping. */
  stopping(): boolean;
  ctl?: Systemctl;
}

/** The loop's self-update: heartbeat and update after each pass, the trial timer, the hand-over. */
export class SelfLoop {
  readonly #h: SelfLoopHost;
  readonly #ports: SelfPorts;
  #passes = 0;
  #trialTimer: ReturnType<typeof setTimeout> | undefined;
  #jitter: { target: string; timer: ReturnType<typeof setTimeout> } | undefined;
  #lastReason = "";
  /** systemd: the restart asked for (once per image). */
  #restartAsked = "";
  random: () => number = Math.random;

  constructor(h: SelfLoopHost, ports: SelfPorts) {
    this.#h = h;
    this.#ports = ports;
  }

  get running(): string {
    return this.#ports.running;
  }

  /** Arms the trial timer: no completed pass in `ms`: the previous updater is restored and takes over. */
  armTrial(ms: number): void {
    this.#trialTimer = setTimeout(() => void this.#trialOver().catch((e) => this.#h.log(messageOf(e))), ms);
  }

  stop(): void {
    if (this.#trialTimer) clearTimeout(this.#trialTimer);
    if (this.#jitter) clearTimeout(this.#jitter.timer);
    this.#trialTimer = undefined;
    this.#jitter = undefined;
  }

  async #trialOver(): Promise<void> {
    this.#trialTimer = undefined;
    const sl = selfLayout(this.#h.layout.installDir);
    const back = await withSelfLock(this.#h.layout.installDir, async () => {
      const s = await readSelfState(sl);
      if (!s.updating || !sameVersion(s.updating.to, this.running)) return undefined;
      const plan = restorePlan(
        s,
        `updater ${this.running} did not complete a pass within 60s of the switch (it hangs)`,
      );
      await restore(sl, plan, (m) => this.#h.log(m));
      return plan.to;
    });
    if (back && !sameVersion(back, this.running)) await this.#exec(selfBinary(sl, back));
  }

  /** After a pass: the heartbeat, then the self-update the server's answer asks for. */
  async afterPass(find: AgentFindAnswer | undefined, now: boolean): Promise<void> {
    // Tests: a new updater whose first pass never completes (a hang).
    if (this.#passes === 0) await faultPause(`self:first-pass@${this.running}`);
    const sl = selfLayout(this.#h.layout.installDir);
    if (existsSync(sl.stateFile) && (this.#passes === 0 || this.#trialTimer)) {
      const s = await writeHeartbeat({
        installDir: this.#h.layout.installDir,
        running: this.running,
        now: this.#ports.now(),
      });
      if (this.#trialTimer && !s.updating) {
        clearTimeout(this.#trialTimer);
        this.#trialTimer = undefined;
        this.#h.log(`updater ${this.running}: ${s.lastResult}`);
      }
    }
    this.#passes++;
    if (!find || this.#h.stopping()) return;
    const d = await decideSelf(this.#context(), find.updaterVersion, {
      seconds: now ? 0 : find.jitterSeconds,
      random: this.random(),
    });
    if (d.action === "none") {
      if (d.reason !== this.#lastReason && find.updaterVersion) this.#h.log(`updater: ${d.reason}`);
      this.#lastReason = d.reason;
      return;
    }
    this.#lastReason = "";
    if (d.action === "install" && d.waitMs > 0) {
      if (this.#jitter?.target === d.target) return;
      if (this.#jitter) clearTimeout(this.#jitter.timer);
      const ms = d.waitMs;
      this.#h.log(`updater: ${d.reason}; waiting ${Math.round(ms / 1000)}s of jitter first`);
      this.#jitter = {
        target: d.target,
        timer: setTimeout(() => {
          this.#jitter = undefined;
          void this.#run(d).catch((e) => this.#h.log(`updater: ${messageOf(e)}`));
        }, ms),
      };
      return;
    }
    // At once (no jitter, `agent update --now`): a jitter wait in progress is dropped.
    if (this.#jitter) clearTimeout(this.#jitter.timer);
    this.#jitter = undefined;
    await this.#run(d);
  }

  #context() {
    return {
      installDir: this.#h.layout.installDir,
      namespace: this.#h.layout.namespace,
      spec: this.#h.spec(),
      ports: this.#ports,
      log: (m: string) => this.#h.log(m),
    };
  }

  async #run(d: SelfDecision): Promise<void> {
    if (this.#h.stopping()) return;
    if (d.action !== "none") this.#h.log(`updater: ${d.reason}`);
    const r = await selfUpdate(this.#context(), d);
    if (r.outcome !== "handover") return;
    await this.#handOver(r.target, r.binary);
  }

  async #handOver(target: string, binary: string): Promise<void> {
    const spec = this.#h.spec();
    if (spec.service === "systemd") {
      if (this.#restartAsked === target) return;
      this.#restartAsked = target;
      await this.#restartUnit(spec);
      return;
    }
    this.#h.log(`updater: handing over to ${target} in place (pid ${process.pid}; the daemon keeps running)`);
    try {
      await this.#exec(binary);
    } catch (e) {
      // Could not hand over: the switch is undone, the version skipped; this updater goes on.
      await withSelfLock(this.#h.layout.installDir, async (sl) => {
        const s = await readSelfState(sl);
        if (s.updating && sameVersion(s.updating.to, target))
          await restore(sl, restorePlan(s, `could not hand over to ${target}: ${messageOf(e)}`), (m) =>
            this.#h.log(m),
          );
      });
      throw e;
    }
  }

  async #exec(binary: string): Promise<void> {
    await this.#h.release();
    this.stop();
    faultPoint("self:before-exec");
    await execInPlace(binary, [binary, ...ownArgs()], process.env);
  }

  /** systemd: the agent's unit runs updater/current/upkeep; restarted without waiting (it stops this process). */
  async #restartUnit(spec: AgentSpec): Promise<void> {
    const l = this.#h.layout;
    const ctl = this.#h.ctl ?? new ExecSystemctl();
    const unit = agentUnit({
      spec,
      upkeepPath: join(selfLayout(l.installDir).current, "upkeep"),
      installDir: l.installDir,
      namespace: l.namespace,
      interval: spec.interval,
    });
    await writeUnits(spec.systemdDir, [unit]);
    await systemctlMust(ctl, ["daemon-reload"]);
    this.#h.log(
      `updater: restarting ${agentUnitName(l.namespace)} on the new updater (the daemon is not touched)`,
    );
    await systemctlMust(ctl, ["restart", "--no-block", agentUnitName(l.namespace)]);
  }
}
