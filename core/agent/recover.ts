/**
 * Crash recovery (DESIGN §6: "after a restart the host runs a complete version and the state file tells
 * the truth"). Given what `current` points at and what update.yaml says, decides what to do. Pure.
 *
 * The truth is `current`: the daemon runs whatever it points at. An interrupted update is finished or undone:
 * - `current` is the old version (the switch never happened, or was reverted): the intent is dropped; if it
 *   was a rollback in progress, the failed version goes on the skip list. The daemon is restarted on
 *   `current` (under systemd it may still run the new version: killed between the switch back and the
 *   restart).
 * - `current` is the new version and the update was rolling back: switch back to the old one (undo).
 * - `current` is the new version otherwise: the switch happened and health was never settled; the intent
 *   stays (active = new, backup = old) so the next restart + health check settles it.
 * - `current` missing or not a complete version: point it at the best complete version (the intent's old
 *   version, then active, then backup, then the newest installed).
 */
import { formatVersion, sameVersion, sortVersions, tryParseVersion } from "../version/mod.ts";
import { addSkip } from "./decide.ts";
import type { AgentStatus, UpdateIntent } from "./types.ts";

export interface InstalledVersion {
  /** Folder name under versions/ (e.g. `1.2.3`, `1.2.3_ent`). */
  name: string;
  complete: boolean;
}

export interface RecoveryInput {
  status: AgentStatus;
  /** Folder name `current` points at (undefined: no link). */
  current: string | undefined;
  installed: readonly InstalledVersion[];
  /** versions/ folder name of a version on this host. */
  dirName: (version: string) => string;
}

export interface RecoveryPlan {
  /** Point `current` at this folder first (undefined: leave it). */
  switchTo?: string;
  status: AgentStatus;
  /** What was repaired, for the log and last_result (empty: nothing to do). */
  notes: string[];
  /** The version a finished rollback marked as skipped (for a report). */
  rolledBack?: { version: string; reason: string };
  /** The daemon must be (re)started on `current`. */
  restart: boolean;
}

/** The version a versions/ folder holds: the name up to the first `_` (semver has no `_`). */
export function versionOfDir(name: string): string | undefined {
  const v = name.split("_")[0] ?? "";
  return tryParseVersion(v) ? v : undefined;
}

export function planRecovery(input: RecoveryInput): RecoveryPlan {
  const status: AgentStatus = {
    ...input.status,
    skip: [...input.status.skip],
    skipByOperator: [...input.status.skipByOperator],
  };
  const complete = new Set(input.installed.filter((v) => v.complete).map((v) => v.name));
  const p: Planning = {
    input,
    status,
    notes: [],
    restart: false,
    isComplete: (version) => version !== "" && complete.has(input.dirName(version)),
  };
  let cur =
    input.current !== undefined && complete.has(input.current) ? versionOfDir(input.current) : undefined;
  if (cur === undefined) {
    cur = repointCurrent(p);
    if (cur === undefined) {
      // Nothing complete is installed: nothing can run. Say so; the next pass installs.
      if (status.active !== "" || status.updating) p.notes.push("no complete version is installed");
      status.active = "";
      status.backup = "";
      delete status.updating;
      return { status, notes: p.notes, restart: false };
    }
  }
  if (status.updating) settleIntent(p, status.updating, cur);
  else if (!sameVersion(status.active, cur)) {
    p.notes.push(
      `update.yaml said ${status.active || "nothing"} was active, current points at ${cur}: fixed`,
    );
    if (status.active && p.isComplete(status.active) && !sameVersion(status.backup, cur))
      status.backup = status.active;
    status.active = cur;
    p.restart = true;
  }
  if (status.backup && (!p.isComplete(status.backup) || sameVersion(status.backup, status.active))) {
    p.notes.push(`backup ${status.backup} is not installed: cleared`);
    status.backup = "";
  }
  const { switchTo, rolledBack } = p;
  return {
    ...(switchTo ? { switchTo } : {}),
    status,
    notes: p.notes,
    restart: p.restart,
    ...(rolledBack ? { rolledBack } : {}),
  };
}

/** A plan being made: the status it changes, and what it decided so far. */
interface Planning {
  input: RecoveryInput;
  status: AgentStatus;
  notes: string[];
  restart: boolean;
  switchTo?: string;
  rolledBack?: RecoveryPlan["rolledBack"];
  isComplete: (version: string) => boolean;
}

/**
 * `current` missing or not a complete version: the best complete one (the intent's old version, then active,
 * then backup, then the newest installed), or undefined when none is.
 */
function repointCurrent(p: Planning): string | undefined {
  const { input, status } = p;
  const candidates = [
    status.updating?.from ?? "",
    status.active,
    status.backup,
    ...newestFirst(input.installed),
  ];
  const pick = candidates.find((v) => p.isComplete(v));
  if (pick === undefined) return undefined;
  p.switchTo = input.dirName(pick);
  p.notes.push(
    input.current === undefined
      ? `current was missing: pointed it at ${pick}`
      : `current pointed at ${input.current}, not a complete version: pointed it at ${pick}`,
  );
  p.restart = true;
  return pick;
}

/** An interrupted update (`u`) with `current` on `cur`: finished or undone (see the module's comment). */
function settleIntent(p: Planning, u: UpdateIntent, cur: string): void {
  const { status } = p;
  if (sameVersion(cur, u.to) && !sameVersion(u.from, u.to)) {
    if (u.rollingBack && p.isComplete(u.from)) {
      p.switchTo = p.input.dirName(u.from);
      p.restart = true;
      status.active = u.from;
      status.backup = status.backup && !sameVersion(status.backup, u.from) ? status.backup : "";
      addSkip(status, u.to);
      p.rolledBack = { version: u.to, reason: u.rollingBack.reason };
      p.notes.push(`finished the interrupted rollback from ${u.to} to ${u.from}`);
      delete status.updating;
      return;
    }
    // Switched, health not settled: keep the intent; the next restart + health check settles it.
    if (!sameVersion(status.active, u.to))
      p.notes.push(`the switch to ${u.to} happened; its health is checked next`);
    status.active = u.to;
    if (u.from) status.backup = u.from;
    p.restart = true;
    return;
  }
  if (u.rollingBack) {
    addSkip(status, u.to);
    p.rolledBack = { version: u.to, reason: u.rollingBack.reason };
    p.notes.push(`finished the interrupted rollback of ${u.to}: running ${cur}`);
    // Killed between the switch back and the restart, a daemon not run by the agent (systemd) still
    // runs the failed version: always restart it on `current`.
    p.restart = true;
  } else {
    p.notes.push(`the interrupted update to ${u.to} did not switch: running ${cur}`);
    // The daemon may have been started on the new version before `current` was put back: restart.
    if (!sameVersion(u.to, cur)) p.restart = true;
  }
  if (!sameVersion(status.active, cur)) {
    status.active = cur;
    p.restart = true;
  }
  delete status.updating;
}

function newestFirst(installed: readonly InstalledVersion[]): string[] {
  const vs = installed
    .filter((v) => v.complete)
    .map((v) => tryParseVersion(versionOfDir(v.name) ?? ""))
    .filter((v) => v !== undefined);
  return sortVersions(vs).reverse().map(formatVersion);
}

/** versions/ folders to keep: the active and backup versions (and an update's target while it runs). */
export function versionsToKeep(status: AgentStatus, dirName: (version: string) => string): string[] {
  const keep = [status.active, status.backup, status.updating?.from ?? "", status.updating?.to ?? ""];
  return [...new Set(keep.filter((v) => v !== "").map(dirName))];
}
