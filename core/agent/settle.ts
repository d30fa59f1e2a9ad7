/**
 * The status changes that settle an update after the switch (DESIGN §6): commit, the rollback (its intent,
 * then its end), the unhealthy version kept when there is nothing to go back to, and the switch left for the
 * loop to judge; and what a pass that threw leaves. Each returns a new status (the input is not changed).
 * Pure; the updater writes the result to update.yaml.
 */
import { sameVersion } from "../version/same_version.ts";
import { addSkip, removeSkip } from "./decide.ts";
import type { AgentStatus } from "./types.ts";

function copy(s: AgentStatus): AgentStatus {
  const next = { ...s, skip: [...s.skip], skipByOperator: [...s.skipByOperator] };
  if (s.updating) next.updating = { ...s.updating };
  return next;
}

function settled(s: AgentStatus): AgentStatus {
  const next = copy(s);
  delete next.updating;
  return next;
}

/** `to` is healthy: active, `from` kept as the backup, `to` no longer skipped. */
export function commitStatus(s: AgentStatus, c: { from: string; to: string; detail: string }): AgentStatus {
  const next = settled(s);
  const moved = c.from !== "" && !sameVersion(c.from, c.to);
  next.active = c.to;
  if (moved) next.backup = c.from;
  removeSkip(next, c.to);
  next.lastResult = moved
    ? `updated from ${c.from} to ${c.to} (${c.detail})`
    : `installed ${c.to} (${c.detail})`;
  next.lastError = "";
  return next;
}

/**
 * No supervisor runs the daemon (supervise without `agent run`): `to` is active now, its health is judged
 * when the loop starts it. The intent stays for that.
 */
export function switchedStatus(s: AgentStatus, c: { from: string; to: string }): AgentStatus {
  const next = copy(s);
  next.active = c.to;
  next.backup = c.from;
  next.lastResult = `switched to ${c.to}; its health is checked when \`upkeep agent run\` starts the daemon`;
  next.lastError = "";
  return next;
}

/** `to` is unhealthy and nothing complete to go back to: it stays active, the failure said. */
export function keptUnhealthyStatus(s: AgentStatus, c: { to: string; detail: string }): AgentStatus {
  const next = settled(s);
  next.active = c.to;
  next.lastError = `${c.to} is unhealthy (${c.detail}) and there is no previous version to roll back to`;
  return next;
}

/** Before switching back: the intent says it rolls back, so a crash from here on finishes the rollback. */
export function rollingBackStatus(
  s: AgentStatus,
  c: { from: string; to: string; reason: string; now: string },
): AgentStatus {
  const next = copy(s);
  next.updating = {
    from: c.from,
    to: c.to,
    started: s.updating?.started ?? c.now,
    rollingBack: { reason: c.reason },
  };
  return next;
}

export interface RollbackFacts {
  from: string;
  to: string;
  reason: string;
  /** From the switch to the unhealthy verdict, and from the verdict to `from` running again (ms). */
  detectMs: number;
  rollbackMs: number;
  /** Restarting `from` failed (empty: it did not). */
  restartError: string;
}

/** Back on `from`: `to` skipped (a failure here, not the operator's), the timings said. */
export function rolledBackStatus(s: AgentStatus, c: RollbackFacts): AgentStatus {
  const next = settled(s);
  next.active = c.from;
  if (sameVersion(next.backup, c.from)) next.backup = "";
  addSkip(next, c.to);
  next.lastResult = `rolled back from ${c.to} to ${c.from} in ${c.rollbackMs} ms (detected in ${c.detectMs} ms); ${c.to} is skipped${c.restartError ? `; restarting ${c.from} failed: ${c.restartError}` : ""}`;
  next.lastError = c.reason;
  return next;
}

/**
 * A pass that threw (the error text with its code). After the switch the intent stays for recovery; before
 * it nothing changed, and the version is skipped when the failure policy says so.
 */
export function failedStatus(
  s: AgentStatus,
  c: { from: string; to: string; error: string; afterSwitch: boolean; skip: boolean },
): AgentStatus {
  const next = copy(s);
  next.lastError = c.error;
  next.lastResult = c.afterSwitch
    ? `update to ${c.to} failed after the switch: the next command finishes or undoes it`
    : `update to ${c.to} failed before the switch; still running ${c.from || "nothing"}`;
  if (c.skip) addSkip(next, c.to);
  return next;
}
