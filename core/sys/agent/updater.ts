/**
 * One update pass (DESIGN §6), every step safe to kill:
 *
 *   recover -> find -> decide -> jitter -> manifest -> install -> smoke test -> intent in update.yaml
 *   -> switch `current` -> restart -> health -> commit (active/backup, clean old versions, report ok)
 *                                              or roll back (intent marked, switch back, restart the old
 *                                              version, skip the new one, report rolledback)
 *
 * The caller holds the namespace lock. Every step has a fault point `agent:<step>` (core/sys/fault.ts) so the
 * crash tests can SIGKILL the agent there. The server being unreachable never rolls anything back.
 */
import { join } from "node:path";
import {
  type AgentState,
  addSkip,
  checkSuggestedArtifact,
  DEFAULT_HEALTH_POLICY,
  decidePass,
  type FindAnswer,
  type HealthSample,
  type HealthVerdict,
  isReleaseVerdict,
  isSkippedByOperator,
  jitterMs,
  judgeHealth,
  planRecovery,
  removeSkip,
  sameVersion,
  skipsRelease,
  versionsToKeep,
} from "../../agent/mod.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { parsePublicKey } from "../../trust/minisign.ts";
import { formatArtifactName } from "../../trust/mod.ts";
import { faultPoint } from "../fault.ts";
import {
  cleanSymlinkLeftovers,
  cleanVersionsDir,
  currentPlatform,
  fetchVerifiedManifest,
  type InstallSource,
  installVersion,
  isCompleteVersionDir,
  listInstalledVersions,
  type Platform,
  switchSymlink,
  versionDirName,
} from "../install/mod.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { currentTarget, type Layout } from "./layout.ts";
import { binariesOf, ensureLinks } from "./links.ts";
import { probe, smokeTest } from "./probe.ts";
import { find, type ReportBody, sendReport } from "./server_api.ts";
import type { ServiceBackend } from "./service.ts";
import { writeState } from "./state_store.ts";

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

/** `waiting`: the `agent run` loop waits out a jitter outside the pass, then runs a pass without it. */
export type PassOutcome =
  | "updated"
  | "unchanged"
  | "switched"
  | "rolledback"
  | "failed"
  | "error"
  | "waiting";

export interface PassResult {
  outcome: PassOutcome;
  /** Version running before the pass. */
  from: string;
  /** The version the pass aimed at (the server's target, or the forced one). */
  to: string;
  message: string;
  /** The error of a failed, rolled-back or erroring pass. */
  code?: string;
  /** Health watch and rollback timings of a rolled-back update (ms). */
  detect_ms?: number;
  rollback_ms?: number;
}

export interface PassOptions {
  /** Skip the jitter (`agent update --now`). */
  now?: boolean;
  /**
   * Waits out the jitter. Default: a sleep inside the pass (a one-shot `agent update`, which holds the
   * lock meanwhile); the `agent run` loop waits outside the pass instead (jitter_gate.ts).
   */
  waitJitter?: JitterWaiter;
  /** Install this version whatever the server says (`pin VERSION`, `rollback`, `enable`). */
  force?: string;
  /** Why the version is forced, for messages. */
  forceWhy?: string;
}

/** A jitter wait about to start: from and to, its length, and when it ends. */
export interface JitterWait {
  from: string;
  to: string;
  ms: number;
  until: Date;
}

/**
 * How a jitter wait ended: go on with the update, or end the pass without it: `waiting` when the wait goes
 * on outside the pass (the `agent run` loop's, which runs a pass afterwards), else unchanged (stopping).
 */
export type JitterEnd = { go: true } | { go: false; why: string; waiting?: boolean };

export type JitterWaiter = (w: JitterWait, signal?: AbortSignal) => Promise<JitterEnd>;

export interface UpdaterDeps {
  layout: Layout;
  state: AgentState;
  backend: ServiceBackend;
  log: (msg: string) => void;
  now?: () => Date;
  random?: () => number;
  signal?: AbortSignal;
  /** Write update.yaml (false for `enable` before its first install succeeded). */
  persist?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

function errText(e: unknown): string {
  return isUpkeepError(e) ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
}

/**
 * A pass result's message without its trailing ` (E_CODE)`: for an error that embeds it and carries the
 * same code (main.ts appends the code once).
 */
export function messageWithoutCode(message: string, code: string | undefined): string {
  const tail = code ? ` (${code})` : "";
  return tail && message.endsWith(tail) ? message.slice(0, -tail.length) : message;
}

export class Updater {
  readonly layout: Layout;
  state: AgentState;
  readonly backend: ServiceBackend;
  #log: (msg: string) => void;
  #now: () => Date;
  #random: () => number;
  #signal: AbortSignal | undefined;
  /** `current` was switched during this pass (an error from here on is not "before the switch"). */
  #switched = false;
  persist: boolean;

  constructor(d: UpdaterDeps) {
    this.layout = d.layout;
    this.state = d.state;
    this.backend = d.backend;
    this.#log = d.log;
    this.#now = d.now ?? (() => new Date());
    this.#random = d.random ?? Math.random;
    this.#signal = d.signal;
    this.persist = d.persist ?? true;
  }

  get platform(): Platform {
    return currentPlatform(this.state.spec.edition, this.state.spec.fips);
  }

  dirName = (version: string): string => versionDirName(version, this.platform);

  async save(): Promise<void> {
    if (this.persist) await writeState(this.layout, this.state);
  }

  /** Reports the active version as ok (enable, once update.yaml is written). */
  async reportActive(): Promise<void> {
    if (this.state.status.active) await this.#report({ state: "ok", version: this.state.status.active });
  }

  async #report(r: ReportBody): Promise<void> {
    // Nothing is reported before update.yaml exists (a failed first install of `enable`): the server would
    // list a host that was never enabled, under an updater_id that is not kept.
    if (!this.persist) return;
    const err = this.state.spec.token
      ? await sendReport(this.state.spec, r)
      : "no agent token: this host sends no reports, the server's rollouts do not see it (upkeep agent enable --token T)";
    if (err && this.state.spec.token) this.#log(`report not sent (the update is not affected): ${err}`);
    // Kept in update.yaml (shown by `agent status`) until a report is sent again.
    const st = this.state.status;
    if ((err ?? "") !== st.lastReportError) {
      st.lastReportError = err ?? "";
      await this.save().catch(() => {});
    }
  }

  /**
   * Deletes the folder of a version just put on the skip list (after update.yaml says so), unless it is the
   * active or backup one, or what `current` points at. A failure only logs: the next commit cleans it.
   */
  /** Removes the folders of skipped versions (never active, backup or current). */
  sweepSkipped(): void {
    if (this.persist) for (const v of this.state.status.skip) this.#removeSkipped(v);
  }

  #removeSkipped(version: string): void {
    const name = this.dirName(version);
    if (versionsToKeep(this.state.status, this.dirName).includes(name)) return;
    if (currentTarget(this.layout) === name) return;
    try {
      if (removeVersionDir(this.layout.versionsDir, name)) this.#log(`removed the skipped version ${name}`);
    } catch (e) {
      this.#log(`could not remove the skipped version ${name}: ${errText(e)}`);
    }
  }

  async #switch(version: string): Promise<void> {
    await switchSymlink(this.layout.current, join("versions", this.dirName(version)));
  }

  /**
   * Makes update.yaml tell the truth about `current` (crash recovery). Returns the notes (empty when
   * nothing was wrong). `restart` says the daemon must be (re)started on `current`.
   */
  async recover(): Promise<{ notes: string[]; restart: boolean }> {
    const l = this.layout;
    // A switch cut short leaves `current.new-*`: never the truth, removed.
    cleanSymlinkLeftovers(l.current);
    const installed = listInstalledVersions(l.versionsDir).map((v) => ({
      name: v.name,
      complete: v.complete,
    }));
    const plan = planRecovery({
      status: this.state.status,
      current: currentTarget(l),
      installed,
      dirName: this.dirName,
    });
    if (plan.switchTo) await switchSymlink(l.current, join("versions", plan.switchTo));
    this.state = { ...this.state, status: plan.status };
    if (plan.notes.length > 0) {
      this.state.status.lastResult = `recovered: ${plan.notes.join("; ")}`;
      for (const n of plan.notes) this.#log(`recovery: ${n}`);
      await this.save();
    }
    // After update.yaml lists them as skipped, their folders go (also one left by an agent killed between
    // recording a rollback and removing the folder). Not before update.yaml exists (enable), and not while
    // a restart is pending: the daemon may still run from a skipped folder (the caller sweeps after it).
    if (!plan.restart) this.sweepSkipped();
    if (plan.rolledBack)
      await this.#report({
        state: "rolledback",
        version: plan.status.active,
        failedVersion: plan.rolledBack.version,
        error: plan.rolledBack.reason,
      });
    return { notes: plan.notes, restart: plan.restart };
  }

  /** The one-shot's jitter: said in the log and in update.yaml (`agent status`), then slept in the pass. */
  #sleepJitter = async (w: JitterWait, signal?: AbortSignal): Promise<JitterEnd> => {
    this.#log(`waiting ${Math.round(w.ms / 1000)}s of jitter before downloading (--now skips it)`);
    this.state.status.lastResult = `waiting ${Math.round(w.ms / 1000)}s of jitter (until ${w.until.toISOString()}) before updating to ${w.to}; \`upkeep agent update --now\` skips it`;
    await this.save();
    await sleep(w.ms, signal);
    return signal?.aborted ? { go: false, why: "stopped during the jitter" } : { go: true };
  };

  /** Watches the daemon after a restart: samples until the verdict is known or the wait is over. */
  async watchHealth(): Promise<HealthVerdict & { ms: number }> {
    const spec = this.state.spec;
    const started = Date.now();
    const wait = spec.healthWaitMs;
    const pollMs = Math.min(1000, Math.max(100, Math.floor(wait / 5)));
    const policy = {
      ...DEFAULT_HEALTH_POLICY,
      stablePolls: wait >= 2 * pollMs ? DEFAULT_HEALTH_POLICY.stablePolls : 1,
    };
    const samples: HealthSample[] = [];
    for (;;) {
      const s = await this.backend.sample();
      const at = Date.now() - started;
      const done = at >= wait;
      // The readiness probe runs at every poll once the daemon has a PID; its last answer counts.
      const p = s.pid !== 0 ? await probe(spec) : undefined;
      samples.push({ at, pid: s.pid, restarts: s.restarts, ...(p ? { probe: p } : {}) });
      const v = judgeHealth(samples, policy, done);
      if (v.state !== "pending") return { ...v, ms: Date.now() - started };
      await sleep(pollMs, this.#signal);
      // Stopping is no verdict about the release: the caller leaves the intent for recovery to settle.
      if (this.#signal?.aborted)
        return { state: "pending", detail: "the agent is stopping", ms: Date.now() - started };
    }
  }

  /**
   * One pass. Never throws for a failed update (the result says what happened and update.yaml records it);
   * throws only for local problems that leave nothing changed (bad state file, lock, I/O before any switch).
   */
  async pass(opts: PassOptions = {}): Promise<PassResult> {
    const st = this.state;
    this.#switched = false;
    // An update that switched but never settled its health (agent killed after the switch): settle it now.
    const u = st.status.updating;
    if (u && sameVersion(st.status.active, u.to) && this.backend.manages) {
      let r: PassResult;
      try {
        r = await this.#settle(u.from, u.to, Date.now());
      } catch (e) {
        return this.#failed(u.from, u.to, e);
      }
      // Its outcome is this pass's answer, also when forced to the very version just settled (the
      // commit is what the caller asked for); forced elsewhere, the pass goes on from where it settled.
      if (opts.force === undefined || r.outcome === "error" || sameVersion(opts.force, u.to)) return r;
      this.#switched = false;
    }
    const from = st.status.active;

    let answer: FindAnswer | undefined;
    let target = opts.force ?? "";
    if (opts.force === undefined) {
      try {
        answer = await find(st.spec, this.#signal);
      } catch (e) {
        // Never roll back for a reason outside the host: keep the daemon running, record the error.
        st.status.lastCheck = this.#now().toISOString();
        st.status.lastError = errText(e);
        st.status.lastResult = `could not ask the server; ${from ? `still running ${from}` : "nothing installed"}`;
        await this.save();
        return {
          outcome: "error",
          from,
          to: "",
          message: st.status.lastError,
          ...(isUpkeepError(e) ? { code: e.code } : {}),
        };
      }
      faultPoint("agent:after-find");
      st.status.lastCheck = this.#now().toISOString();
      const healthy = await this.backend.healthyNow().catch(() => undefined);
      const d = decidePass({ spec: st.spec, status: st.status, find: answer, daemonHealthy: healthy });
      target = d.target;
      if (!d.update) {
        st.status.lastResult = d.reason;
        st.status.lastError = "";
        await this.save();
        const skipped = st.status.skip.some((v) => sameVersion(v, d.target));
        // An operator's skip (agent rollback) is no failure of the release: reported as such, without a
        // failed_version (which the server counts against the rollout).
        const byOperator = isSkippedByOperator(st.status, d.target);
        await this.#report(
          byOperator
            ? {
                state: healthy === false ? "failed" : "ok",
                version: from,
                error: `${d.target} is skipped on this host by the operator (upkeep agent rollback)`,
              }
            : skipped
              ? {
                  state: "rolledback",
                  version: from,
                  failedVersion: d.target,
                  error: `${d.target} is skipped on this host`,
                }
              : { state: healthy === false ? "failed" : "ok", version: from },
        );
        return { outcome: "unchanged", from, to: d.target, message: d.reason };
      }
      this.#log(`update: ${d.reason}`);
      if (!opts.now && !d.urgent && answer.jitterSeconds > 0) {
        const ms = jitterMs(answer.jitterSeconds, this.#random());
        const wait = { from, to: target, ms, until: new Date(this.#now().getTime() + ms) };
        const end = await (opts.waitJitter ?? this.#sleepJitter)(wait, this.#signal);
        if (!end.go) {
          // The loop waits outside the pass (no lock held), or the agent is stopping: nothing changed.
          st.status.lastResult = end.waiting ? end.why : `${end.why}; still running ${from || "nothing"}`;
          st.status.lastError = "";
          await this.save().catch(() => {});
          return { outcome: end.waiting ? "waiting" : "unchanged", from, to: target, message: end.why };
        }
      }
    } else {
      this.#log(`update: ${opts.forceWhy ?? "forced"} ${target}`);
    }
    try {
      return await this.#update(from, target, answer);
    } catch (e) {
      return this.#failed(from, target, e);
    }
  }

  /**
   * A pass that threw. Before the switch nothing changed: the error is recorded, and reported as a failed
   * release only when it is a verdict about the release itself (checksum, signature, smoke test...); local
   * or transient problems (network, disk, mirror not synced, agent stopping) are tried again later. After
   * the switch (the rollback itself failed, e.g. update.yaml could not be written) the intent stays in
   * update.yaml and the next command's recovery finishes or undoes the update.
   */
  async #failed(from: string, target: string, e: unknown): Promise<PassResult> {
    const st = this.state;
    const code = isUpkeepError(e) ? e.code : undefined;
    st.status.lastError = errText(e);
    if (this.#switched) {
      st.status.lastResult = `update to ${target} failed after the switch: the next command finishes or undoes it`;
      await this.save().catch(() => {});
      return { outcome: "error", from, to: target, message: st.status.lastError, code: code ?? "E_INTERNAL" };
    }
    st.status.lastResult = `update to ${target} failed before the switch; still running ${from || "nothing"}`;
    await this.save().catch(() => {});
    if (code === undefined || !isReleaseVerdict(code)) {
      // Not the release's fault (artifact host unreachable, no space, agent stopping...): no report of a
      // failed version, no skip; the next pass tries again.
      return { outcome: "error", from, to: target, message: st.status.lastError, ...(code ? { code } : {}) };
    }
    if (skipsRelease(code)) {
      // A release whose binary does not even run here, or whose verified archive the installer refuses, is
      // broken for this host: never downloaded or tried again (until pinned).
      addSkip(st.status, target);
      await this.save().catch(() => {});
      this.#removeSkipped(target);
    }
    await this.#report({
      state: "failed",
      version: from || target,
      failedVersion: target,
      error: st.status.lastError,
    });
    return { outcome: "failed", from, to: target, message: st.status.lastError, code };
  }

  async #update(from: string, target: string, answer: FindAnswer | undefined): Promise<PassResult> {
    const st = this.state;
    const spec = st.spec;
    const l = this.layout;
    const platform = this.platform;
    // This host's own configuration (artifact template, trusted keys): a problem there says nothing about
    // the release, whatever its code (E_MALFORMED...), so it is never reported as a failed version.
    let local: string;
    let trustedKeys: ReturnType<typeof parsePublicKey>[];
    try {
      local = formatArtifactName({
        product: spec.product,
        edition: platform.edition,
        version: target,
        os: platform.os,
        arch: platform.arch,
        fips: platform.fips,
      });
      trustedKeys = spec.trustKeys.map((k) => parsePublicKey(k));
    } catch (e) {
      throw new UpkeepError("E_CONFLICT", `this host's configuration: ${(e as Error).message}`, {
        cause: e,
        hint: `check ${l.stateFile} (trusted keys, product)`,
      });
    }
    if (answer) {
      const bad = checkSuggestedArtifact(answer.artifact, local, platform.os, platform.arch);
      // The server and this host disagree (configuration, not the release): tried again, not reported.
      if (bad) throw new UpkeepError("E_CONFLICT", bad);
    }
    const source: InstallSource = {
      baseUrl: spec.baseUrl,
      product: spec.product,
      trustedKeys,
      insecure: spec.insecure,
    };
    const installedDir = join(l.versionsDir, this.dirName(target));
    if (answer === undefined && isCompleteVersionDir(installedDir)) {
      // A forced switch to a version verified and installed before (rollback, pin): no network needed.
      return this.#switchAndSettle(from, target, installedDir);
    }
    let manifest: Awaited<ReturnType<typeof fetchVerifiedManifest>>;
    try {
      manifest = await fetchVerifiedManifest(source, {
        now: this.#now(),
        lastSerial: st.status.manifestSerial,
        workDir: l.workDir,
        // Stopping the agent stops the fetch (it waited out the manifest's 30 s deadline).
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (e) {
      throw manifestProblem(e);
    }
    if (manifest.serial > st.status.manifestSerial) st.status.manifestSerial = manifest.serial;
    faultPoint("agent:after-manifest");
    const { dir, reused } = await installVersion({
      source,
      manifest,
      version: target,
      platform,
      versionsDir: l.versionsDir,
      // A re-published version is never installed over the folder the daemon runs from.
      inUse: [currentTarget(l) ?? "", st.status.active ? this.dirName(st.status.active) : ""],
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    this.#log(`${reused ? "already installed" : "installed"}: ${dir}`);
    faultPoint("agent:after-install");
    return this.#switchAndSettle(from, target, dir);
  }

  async #switchAndSettle(from: string, target: string, dir: string): Promise<PassResult> {
    const st = this.state;
    const spec = st.spec;
    const l = this.layout;
    await smokeTest(join(dir, "bin", spec.daemon), target, Math.max(spec.healthTimeoutMs, 2000));
    faultPoint("agent:after-smoke");
    if (from !== "" && sameVersion(from, target)) {
      st.status.lastResult = `${target} is already active`;
      st.status.lastError = "";
      await this.save();
      return { outcome: "unchanged", from, to: target, message: st.status.lastResult };
    }

    // Intent first, then the switch: a crash in between is undone or finished by recover().
    st.status.updating = { from, to: target, started: this.#now().toISOString() };
    await this.save();
    faultPoint("agent:after-intent");
    await this.#report({ state: "updating", version: from || target });
    const switchedAt = Date.now();
    await this.#switch(target);
    this.#switched = true;
    faultPoint("agent:after-switch");
    try {
      await ensureLinks(l, spec.binDir, await binariesOf(dir));
    } catch (e) {
      // After the switch, every failure goes back to `from`, like an unhealthy verdict.
      return this.#rollBack(
        from,
        target,
        switchedAt,
        `the links to ${target} could not be made: ${errText(e)}`,
      );
    }
    return this.#settle(from, target, switchedAt);
  }

  /** After the switch: restart, watch health, then commit or roll back. */
  async #settle(from: string, to: string, switchedAt: number): Promise<PassResult> {
    const st = this.state;
    this.#switched = true;
    if (!this.backend.manages) {
      // No supervisor runs the daemon (supervise without `agent run`): health is checked when it starts.
      if (from === "") return this.#commit(from, to, "first install");
      st.status.active = to;
      st.status.backup = from;
      st.status.lastResult = `switched to ${to}; its health is checked when \`upkeep agent run\` starts the daemon`;
      st.status.lastError = "";
      await this.save();
      return { outcome: "switched", from, to, message: st.status.lastResult };
    }
    let verdict: HealthVerdict;
    try {
      await this.backend.restart();
    } catch (e) {
      // E.g. `systemctl restart` exits 1 because the new version failed to start: a verdict on it.
      return this.#rollBack(
        from,
        to,
        switchedAt,
        `the daemon could not be restarted on ${to}: ${errText(e)}`,
      );
    }
    faultPoint("agent:after-restart");
    try {
      verdict = await this.watchHealth();
    } catch (e) {
      verdict = { state: "unhealthy", detail: `the daemon's health could not be read: ${errText(e)}` };
    }
    faultPoint("agent:after-health");
    if (verdict.state === "pending") {
      // The agent is stopping: no verdict. The intent stays; recovery at the next start checks health again.
      st.status.lastResult = `stopped while watching the health of ${to}; it is checked again at the next start`;
      st.status.lastError = "";
      await this.save();
      return { outcome: "error", from, to, message: st.status.lastResult, code: "E_CANCELLED" };
    }
    if (verdict.state === "healthy") return this.#commit(from, to, verdict.detail);
    return this.#rollBack(from, to, switchedAt, verdict.detail);
  }

  /** `to` failed after the switch (unhealthy, restart or links failed): back to `from`, skip `to`. */
  async #rollBack(from: string, to: string, switchedAt: number, detail: string): Promise<PassResult> {
    const st = this.state;
    const detectedAt = Date.now();
    this.#log(`unhealthy after the update to ${to}: ${detail}`);
    if (
      from === "" ||
      !listInstalledVersions(this.layout.versionsDir).some((v) => v.complete && v.name === this.dirName(from))
    ) {
      // Nothing to go back to: keep what runs, say so.
      delete st.status.updating;
      st.status.active = to;
      st.status.lastError = `${to} is unhealthy (${detail}) and there is no previous version to roll back to`;
      await this.save();
      await this.#report({ state: "failed", version: to, failedVersion: to, error: st.status.lastError });
      return { outcome: "failed", from, to, message: st.status.lastError, code: "E_UNHEALTHY" };
    }
    // Roll back: mark the intent first, so a crash from here on finishes the rollback.
    const reason = `${to} was unhealthy after the update: ${detail}`;
    st.status.updating = {
      from,
      to,
      started: st.status.updating?.started ?? this.#now().toISOString(),
      rollingBack: { reason },
    };
    await this.save();
    faultPoint("agent:before-revert");
    await this.#switch(from);
    faultPoint("agent:after-revert");
    let restartError = "";
    try {
      await this.backend.restart();
      // The old version is back once it has a PID.
      if (this.backend.manages)
        for (let i = 0; i < 50 && (await this.backend.sample()).pid === 0; i++) await sleep(20);
    } catch (e) {
      // `current` is back on `from` whatever happens here: the rollback is recorded, the failure said.
      restartError = errText(e);
      this.#log(`restarting ${from} after the rollback failed: ${restartError}`);
    }
    const restoredAt = Date.now();
    faultPoint("agent:after-rollback-restart");
    delete st.status.updating;
    st.status.active = from;
    if (sameVersion(st.status.backup, from)) st.status.backup = "";
    addSkip(st.status, to);
    const rollbackMs = restoredAt - detectedAt;
    st.status.lastResult = `rolled back from ${to} to ${from} in ${rollbackMs} ms (detected in ${detectedAt - switchedAt} ms); ${to} is skipped${restartError ? `; restarting ${from} failed: ${restartError}` : ""}`;
    st.status.lastError = reason;
    await this.save();
    faultPoint("agent:after-rollback-commit");
    this.#removeSkipped(to);
    this.#log(st.status.lastResult);
    await this.#report({ state: "rolledback", version: from, failedVersion: to, error: reason });
    return {
      outcome: "rolledback",
      from,
      to,
      message: `${reason}; ${st.status.lastResult}`,
      code: "E_UNHEALTHY",
      detect_ms: detectedAt - switchedAt,
      rollback_ms: rollbackMs,
    };
  }

  async #commit(from: string, to: string, detail: string): Promise<PassResult> {
    const st = this.state;
    delete st.status.updating;
    st.status.active = to;
    if (from !== "" && !sameVersion(from, to)) st.status.backup = from;
    removeSkip(st.status, to);
    st.status.lastResult =
      from && !sameVersion(from, to)
        ? `updated from ${from} to ${to} (${detail})`
        : `installed ${to} (${detail})`;
    st.status.lastError = "";
    await this.save();
    faultPoint("agent:after-commit");
    try {
      const removed = cleanVersionsDir(this.layout.versionsDir, versionsToKeep(st.status, this.dirName));
      if (removed.length) this.#log(`removed old versions: ${removed.join(", ")}`);
    } catch (e) {
      this.#log(`could not remove old versions: ${errText(e)}`);
    }
    faultPoint("agent:after-clean");
    this.#log(st.status.lastResult);
    await this.#report({ state: "ok", version: to });
    return { outcome: "updated", from, to, message: st.status.lastResult };
  }

  /** Restarts the daemon after a recovery moved `current` (when a supervisor runs it). */
  async restartIfManaged(): Promise<void> {
    if (this.backend.manages) await this.backend.restart();
  }
}

/**
 * The release manifest could not be fetched or verified. Whatever the code (a manifest uploaded before its
 * signature, a mirror mid-sync, a bad publish), it says nothing about the release the server names: never a
 * verdict reported as a failed version, tried again at the next pass. The original code stays in the text.
 */
function manifestProblem(e: unknown): unknown {
  if (!isUpkeepError(e) || !isReleaseVerdict(e.code)) return e;
  return new UpkeepError(
    "E_MANIFEST",
    `release manifest: ${e.message} (${e.code}); tried again at the next pass`,
    {
      cause: e,
      ...(e.hint ? { hint: e.hint } : {}),
    },
  );
}
