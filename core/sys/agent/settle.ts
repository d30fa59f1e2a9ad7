/**
 * After the switch (DESIGN §6): restart the daemon on the new version, watch its health, then commit or roll
 * back; core/agent/settle.ts decides each status change, this does the I/O in the order that keeps every
 * step safe to kill (fault points `agent:<step>`). Every failure from here on goes back to the old version.
 */
import { join } from "node:path";
import {
  commitStatus,
  type HealthVerdict,
  keptUnhealthyStatus,
  type PassEnd,
  type PassResult,
  rolledBackStatus,
  rollingBackStatus,
  switchedStatus,
  versionsToKeep,
} from "../../agent/mod.ts";
import { faultPoint } from "../fault.ts";
import { cleanVersionsDir } from "../install/mod.ts";
import { sleep, watchHealth } from "./health_watch.ts";
import type { ProbePort } from "./ports.ts";
import { errText, type RecoveryContext, removeSkipped } from "./recovery.ts";
import type { ServiceBackend } from "./service.ts";

/** What settling works on: the Updater in the middle of a pass. */
export interface SettleContext extends RecoveryContext {
  readonly service: ServiceBackend;
  readonly probe: ProbePort;
  readonly signal: AbortSignal | undefined;
  readonly now: () => Date;
  /** Points `current` at a version's folder. */
  switchTo(version: string): Promise<void>;
  /** The pass's end: its report sent, the result returned. */
  finish(result: PassResult, facts?: Omit<PassEnd, "result" | "status">): Promise<PassResult>;
}

/** After the switch: restart, watch health, then commit or roll back. */
export async function settle(
  u: SettleContext,
  from: string,
  to: string,
  switchedAt: number,
): Promise<PassResult> {
  if (!u.service.manages) {
    // No supervisor runs the daemon (supervise without `agent run`): health is checked when it starts.
    if (from === "") return commit(u, from, to, "first install");
    u.state.status = switchedStatus(u.state.status, { from, to });
    await u.save();
    return { outcome: "switched", from, to, message: u.state.status.lastResult };
  }
  try {
    await u.service.restart();
  } catch (e) {
    // E.g. `systemctl restart` exits 1 because the new version failed to start: a verdict on it.
    return rollBack(u, from, to, switchedAt, `the daemon could not be restarted on ${to}: ${errText(e)}`);
  }
  faultPoint("agent:after-restart");
  let verdict: HealthVerdict;
  try {
    const signal = u.signal ? { signal: u.signal } : {};
    verdict = await watchHealth({ service: u.service, probe: u.probe, spec: u.state.spec, ...signal });
  } catch (e) {
    verdict = { state: "unhealthy", detail: `the daemon's health could not be read: ${errText(e)}` };
  }
  faultPoint("agent:after-health");
  if (verdict.state === "pending") {
    // The agent is stopping: no verdict. The intent stays; recovery at the next start checks health again.
    const st = u.state.status;
    st.lastResult = `stopped while watching the health of ${to}; it is checked again at the next start`;
    st.lastError = "";
    await u.save();
    return { outcome: "error", from, to, message: st.lastResult, code: "E_CANCELLED" };
  }
  if (verdict.state === "healthy") return commit(u, from, to, verdict.detail);
  return rollBack(u, from, to, switchedAt, verdict.detail);
}

/** `to` failed after the switch (unhealthy, restart or links failed): back to `from`, skip `to`. */
export async function rollBack(
  u: SettleContext,
  from: string,
  to: string,
  switchedAt: number,
  detail: string,
): Promise<PassResult> {
  const detectedAt = Date.now();
  u.log(`unhealthy after the update to ${to}: ${detail}`);
  if (from === "" || !u.installer.isInstalled(join(u.layout.versionsDir, u.dirName(from)))) {
    // Nothing to go back to: keep what runs, say so.
    u.state.status = keptUnhealthyStatus(u.state.status, { to, detail });
    await u.save();
    const error = u.state.status.lastError;
    return u.finish({ outcome: "failed", from, to, message: error, code: "E_UNHEALTHY" }, { error });
  }
  // Roll back: mark the intent first, so a crash from here on finishes the rollback.
  const reason = `${to} was unhealthy after the update: ${detail}`;
  u.state.status = rollingBackStatus(u.state.status, { from, to, reason, now: u.now().toISOString() });
  await u.save();
  faultPoint("agent:before-revert");
  await u.switchTo(from);
  faultPoint("agent:after-revert");
  const restartError = await restartOld(u, from);
  const detectMs = detectedAt - switchedAt;
  const rollbackMs = Date.now() - detectedAt;
  faultPoint("agent:after-rollback-restart");
  u.state.status = rolledBackStatus(u.state.status, { from, to, reason, detectMs, rollbackMs, restartError });
  await u.save();
  faultPoint("agent:after-rollback-commit");
  removeSkipped(u, to);
  const done = u.state.status.lastResult;
  u.log(done);
  return u.finish(
    {
      outcome: "rolledback",
      from,
      to,
      message: `${reason}; ${done}`,
      code: "E_UNHEALTHY",
      detect_ms: detectMs,
      rollback_ms: rollbackMs,
    },
    { error: reason },
  );
}

/** Restarts `from` after the switch back; the error text when that failed (empty: it did not). */
async function restartOld(u: SettleContext, from: string): Promise<string> {
  try {
    await u.service.restart();
    // The old version is back once it has a PID.
    if (u.service.manages)
      for (let i = 0; i < 50 && (await u.service.sample()).pid === 0; i++) await sleep(20);
    return "";
  } catch (e) {
    // `current` is back on `from` whatever happens here: the rollback is recorded, the failure said.
    u.log(`restarting ${from} after the rollback failed: ${errText(e)}`);
    return errText(e);
  }
}

/** `to` is healthy: committed, old versions cleaned (a failure there only logs), reported ok. */
async function commit(u: SettleContext, from: string, to: string, detail: string): Promise<PassResult> {
  u.state.status = commitStatus(u.state.status, { from, to, detail });
  await u.save();
  faultPoint("agent:after-commit");
  try {
    const removed = cleanVersionsDir(u.layout.versionsDir, versionsToKeep(u.state.status, u.dirName));
    if (removed.length) u.log(`removed old versions: ${removed.join(", ")}`);
  } catch (e) {
    u.log(`could not remove old versions: ${errText(e)}`);
  }
  faultPoint("agent:after-clean");
  u.log(u.state.status.lastResult);
  return u.finish({ outcome: "updated", from, to, message: u.state.status.lastResult });
}
