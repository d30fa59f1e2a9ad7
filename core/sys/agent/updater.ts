/**
 * One update pass (DESIGN §6), every step safe to kill:
 *
 *   recover -> find -> decide -> jitter -> manifest -> install -> smoke test -> intent in update.yaml
 *   -> switch `current` -> restart -> health -> commit (active/backup, clean old versions, report ok)
 *                                              or roll back (intent marked, switch back, restart the old
 *                                              version, skip the new one, report rolledback)
 *
 * The decisions are core/agent's (decidePass, failurePolicy, passReport, the status changes of settle.ts);
 * everything outside update.yaml goes through the ports (ports.ts: server, installer, probe; service.ts:
 * the service), so unit tests drive the whole path with fakes (updater_path.test.ts). This file is the pass
 * up to the switch; install_target.ts gets the version's folder, settle.ts does what follows the switch,
 * recovery.ts the crash recovery, health_watch.ts the health watch, reporter.ts the reports.
 *
 * The caller holds the namespace lock. Every step has a fault point `agent:<step>` (core/sys/fault.ts) so the
 * crash tests can SIGKILL the agent there. The server being unreachable never rolls anything back.
 */
import { join } from "node:path";
import {
  type AgentState,
  decidePass,
  type FindAnswer,
  failedStatus,
  failurePolicy,
  jitterMs,
  type PassEnd,
  type PassReport,
  type PassResult,
  passReport,
  type UpdateIntent,
} from "../../agent/mod.ts";
import { isUpkeepError } from "../../errors.ts";
import { sameVersion } from "../../version/same_version.ts";
import { faultPoint } from "../fault.ts";
import { currentPlatform, type DownloadFacts, type Platform, versionDirName } from "../install/mod.ts";
import { sleep } from "./health_watch.ts";
import { installTarget } from "./install_target.ts";
import type { Layout } from "./layout.ts";
import { binariesOf, ensureLinks } from "./links.ts";
import type { JitterEnd, JitterWait, JitterWaiter, PassOptions } from "./pass_options.ts";
import type { AgentPorts, InstallerPort, ProbePort, ServerPort } from "./ports.ts";
import { errText, recover, removeSkipped, sweepSkipped } from "./recovery.ts";
import { sendPassReport } from "./reporter.ts";
import type { ServiceBackend } from "./service.ts";
import { rollBack, type SettleContext, settle } from "./settle.ts";
import { writeState } from "./state_store.ts";

export type { PassOutcome, PassResult } from "../../agent/mod.ts";
export type { JitterEnd, JitterWait, JitterWaiter, PassOptions } from "./pass_options.ts";

/** Every fault point of the agent, in the order a pass reaches them. */
export const AGENT_FAULT_POINTS = [
  "agent:after-find",
  "agent:after-manifest",
  "agent:after-install",
  "agent:after-smoke",
  "agent:after-intent",
  "agent:after-switch",
  "agent:after-restart",
  "agent:after-health",
  "agent:after-commit",
  "agent:after-clean",
  "agent:before-revert",
  "agent:after-revert",
  "agent:after-rollback-restart",
  "agent:after-rollback-commit",
] as const;

export interface UpdaterDeps extends AgentPorts {
  layout: Layout;
  state: AgentState;
  /** What runs the daemon: restarts and samples it. */
  service: ServiceBackend;
  log: (msg: string) => void;
  now?: () => Date;
  random?: () => number;
  signal?: AbortSignal;
  /** Write update.yaml (false for `enable` before its first install succeeded). */
  persist?: boolean;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class Updater implements SettleContext {
  readonly layout: Layout;
  state: AgentState;
  readonly server: ServerPort;
  readonly installer: InstallerPort;
  readonly probe: ProbePort;
  readonly service: ServiceBackend;
  readonly log: (msg: string) => void;
  readonly now: () => Date;
  readonly signal: AbortSignal | undefined;
  #random: () => number;
  /** The server's last answer in this session (the loop's self-update reads `updaterVersion`). */
  lastFind: (FindAnswer & { updaterVersion?: string }) | undefined;
  /** `current` was switched during this pass (an error from here on is not "before the switch"). */
  #switched = false;
  persist: boolean;

  constructor(d: UpdaterDeps) {
    this.layout = d.layout;
    this.state = d.state;
    this.server = d.server;
    this.installer = d.installer;
    this.probe = d.probe;
    this.service = d.service;
    this.log = d.log;
    this.now = d.now ?? (() => new Date());
    this.#random = d.random ?? Math.random;
    this.signal = d.signal;
    this.persist = d.persist ?? true;
  }

  get platform(): Platform {
    return currentPlatform(this.state.spec.edition, this.state.spec.fips);
  }

  dirName = (version: string): string => versionDirName(version, this.platform);

  async save(): Promise<void> {
    if (this.persist) await writeState(this.layout, this.state);
  }

  report(r: PassReport): Promise<void> {
    return sendPassReport(this, r);
  }

  /** Reports the active version as ok (enable, once update.yaml is written). */
  async reportActive(): Promise<void> {
    if (this.state.status.active) await this.report({ state: "ok", version: this.state.status.active });
  }

  /** Crash recovery (recovery.ts): update.yaml made to tell the truth about `current`. */
  recover(): Promise<{ notes: string[]; restart: boolean }> {
    return recover(this);
  }

  /** Removes the folders of skipped versions (never active, backup or current). */
  sweepSkipped(): void {
    sweepSkipped(this);
  }

  /** Restarts the daemon after a recovery moved `current` (when a supervisor runs it). */
  async restartIfManaged(): Promise<void> {
    if (this.service.manages) await this.service.restart();
  }

  /**
   * One pass. Never throws for a failed update (the result says what happened and update.yaml records it);
   * throws only for local problems that leave nothing changed (bad state file, lock, I/O before any switch).
   */
  async pass(opts: PassOptions = {}): Promise<PassResult> {
    this.#switched = false;
    this.#download = undefined;
    // An update that switched but never settled its health (agent killed after the switch): settle it now.
    const u = this.state.status.updating;
    if (u && sameVersion(this.state.status.active, u.to) && this.service.manages) {
      const settled = await this.#settleUnfinished(u, opts.force);
      if (settled) return settled;
    }
    const from = this.state.status.active;
    let answer: FindAnswer | undefined;
    let target = opts.force ?? "";
    if (opts.force === undefined) {
      const asked = await this.#ask(from, opts);
      if ("outcome" in asked) return asked;
      ({ answer, target } = asked);
    } else {
      this.log(`update: ${opts.forceWhy ?? "forced"} ${target}`);
    }
    try {
      return this.#withDownload(await this.#update(from, target, answer));
    } catch (e) {
      return this.#withDownload(await this.#failed(from, target, e));
    }
  }

  /** What this pass fetched (delta or full, bytes), in its result (`agent update --json`). */
  #download: DownloadFacts | undefined;
  #withDownload(r: PassResult): PassResult {
    return this.#download ? { ...r, download: this.#download } : r;
  }

  /**
   * Settles an unfinished update. Its outcome is this pass's answer, also when forced to the very version
   * just settled (the commit is what the caller asked for); forced elsewhere (undefined), the pass goes on
   * from where it settled.
   */
  async #settleUnfinished(u: UpdateIntent, force: string | undefined): Promise<PassResult | undefined> {
    let r: PassResult;
    this.#switched = true;
    try {
      r = await settle(this, u.from, u.to, Date.now());
    } catch (e) {
      return this.#failed(u.from, u.to, e);
    }
    if (force === undefined || r.outcome === "error" || sameVersion(force, u.to)) return r;
    this.#switched = false;
    return undefined;
  }

  /** Asks the server and decides: the target to update to, or the pass's end (nothing to do, a wait). */
  async #ask(from: string, opts: PassOptions): Promise<PassResult | { answer: FindAnswer; target: string }> {
    const st = this.state;
    let answer: FindAnswer;
    try {
      answer = await this.server.find(st.spec, this.signal);
    } catch (e) {
      // Never roll back for a reason outside the host: keep the daemon running, record the error.
      st.status.lastCheck = this.now().toISOString();
      st.status.lastError = errText(e);
      st.status.lastResult = `could not ask the server; ${from ? `still running ${from}` : "nothing installed"}`;
      await this.save();
      return {
        outcome: "error",
        from,
        to: "",
        message: messageOf(e),
        ...(isUpkeepError(e) ? { code: e.code } : {}),
      };
    }
    this.lastFind = answer;
    faultPoint("agent:after-find");
    st.status.lastCheck = this.now().toISOString();
    const healthy = await this.service.healthyNow().catch(() => undefined);
    const d = decidePass({ spec: st.spec, status: st.status, find: answer, daemonHealthy: healthy });
    if (!d.update) {
      st.status.lastResult = d.reason;
      st.status.lastError = "";
      await this.save();
      return this.finish(
        { outcome: "unchanged", from, to: d.target, message: d.reason },
        { checked: { healthy } },
      );
    }
    this.log(`update: ${d.reason}`);
    if (!opts.now && !d.urgent && answer.jitterSeconds > 0) {
      const stopped = await this.#jitter(from, d.target, answer.jitterSeconds, opts.waitJitter);
      if (stopped) return stopped;
    }
    return { answer, target: d.target };
  }

  /** Waits out the server's jitter; the pass's end when the wait does not go on to the update. */
  async #jitter(
    from: string,
    to: string,
    seconds: number,
    waiter?: JitterWaiter,
  ): Promise<PassResult | undefined> {
    const ms = jitterMs(seconds, this.#random());
    const wait = { from, to, ms, until: new Date(this.now().getTime() + ms) };
    const end = await (waiter ?? this.#sleepJitter)(wait, this.signal);
    if (end.go) return undefined;
    // The loop waits outside the pass (no lock held), or the agent is stopping: nothing changed.
    const st = this.state;
    st.status.lastResult = end.waiting ? end.why : `${end.why}; still running ${from || "nothing"}`;
    st.status.lastError = "";
    await this.save().catch(() => {});
    return { outcome: end.waiting ? "waiting" : "unchanged", from, to, message: end.why };
  }

  /** The one-shot's jitter: said in the log and in update.yaml (`agent status`), then slept in the pass. */
  #sleepJitter = async (w: JitterWait, signal?: AbortSignal): Promise<JitterEnd> => {
    this.log(`waiting ${Math.round(w.ms / 1000)}s of jitter before downloading (--now skips it)`);
    this.state.status.lastResult = `waiting ${Math.round(w.ms / 1000)}s of jitter (until ${w.until.toISOString()}) before updating to ${w.to}; \`upkeep agent update --now\` skips it`;
    await this.save();
    await sleep(w.ms, signal);
    return signal?.aborted ? { go: false, why: "stopped during the jitter" } : { go: true };
  };

  /** The pass's end: the report passReport picks for it (if any) is sent, the result returned. */
  async finish(result: PassResult, facts: Omit<PassEnd, "result" | "status"> = {}): Promise<PassResult> {
    const r = passReport({ result, status: this.state.status, ...facts });
    if (r) await this.report(r);
    return result;
  }

  /** A pass that threw: recorded; failurePolicy says whether it is reported, skipped, tried again. */
  async #failed(from: string, target: string, e: unknown): Promise<PassResult> {
    const code = isUpkeepError(e) ? e.code : undefined;
    const afterSwitch = this.#switched;
    const policy = failurePolicy(code, afterSwitch);
    const error = errText(e);
    this.state.status = failedStatus(this.state.status, {
      from,
      to: target,
      error,
      afterSwitch,
      skip: policy.skip,
    });
    await this.save().catch(() => {});
    if (policy.skip) removeSkipped(this, target);
    const result: PassResult = {
      outcome: policy.reportFailed ? "failed" : "error",
      from,
      to: target,
      message: messageOf(e),
      ...(code ? { code } : afterSwitch ? { code: "E_INTERNAL" } : {}),
    };
    return this.finish(result, { error });
  }

  async #update(from: string, target: string, answer: FindAnswer | undefined): Promise<PassResult> {
    const dir = await installTarget(this, target, answer, (d) => {
      this.#download = d;
    });
    return this.#switchAndSettle(from, target, dir);
  }

  async #switchAndSettle(from: string, target: string, dir: string): Promise<PassResult> {
    const st = this.state;
    const spec = st.spec;
    await this.probe.smokeTest(join(dir, "bin", spec.daemon), target, Math.max(spec.healthTimeoutMs, 2000));
    faultPoint("agent:after-smoke");
    if (from !== "" && sameVersion(from, target)) {
      st.status.lastResult = `${target} is already active`;
      st.status.lastError = "";
      await this.save();
      return { outcome: "unchanged", from, to: target, message: st.status.lastResult };
    }
    // Intent first, then the switch: a crash in between is undone or finished by recover().
    st.status.updating = { from, to: target, started: this.now().toISOString() };
    await this.save();
    faultPoint("agent:after-intent");
    await this.report({ state: "updating", version: from || target });
    const switchedAt = Date.now();
    await this.switchTo(target);
    this.#switched = true;
    faultPoint("agent:after-switch");
    try {
      await ensureLinks(this.layout, spec.binDir, await binariesOf(dir));
    } catch (e) {
      // After the switch, every failure goes back to `from`, like an unhealthy verdict.
      return rollBack(
        this,
        from,
        target,
        switchedAt,
        `the links to ${target} could not be made: ${errText(e)}`,
      );
    }
    return settle(this, from, target, switchedAt);
  }

  async switchTo(version: string): Promise<void> {
    await this.installer.switchTo(this.layout.current, join("versions", this.dirName(version)));
  }
}
