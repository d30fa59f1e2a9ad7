/**
 * Crash recovery (DESIGN §6) around core/agent/recover.ts's plan: makes update.yaml tell the truth about
 * `current` after an agent was killed anywhere in a pass, and removes the folders of skipped versions.
 */
import { join } from "node:path";
import { type AgentState, type PassReport, planRecovery, versionsToKeep } from "../../agent/mod.ts";
import { isUpkeepError } from "../../errors.ts";
import { cleanSymlinkLeftovers, listInstalledVersions } from "../install/mod.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { currentTarget, type Layout } from "./layout.ts";
import type { InstallerPort } from "./ports.ts";

/** What recovery works on: the Updater's layout, state and installer. */
export interface RecoveryContext {
  readonly layout: Layout;
  state: AgentState;
  readonly persist: boolean;
  readonly installer: InstallerPort;
  readonly dirName: (version: string) => string;
  log(msg: string): void;
  save(): Promise<void>;
  report(r: PassReport): Promise<void>;
}

/** An error as update.yaml and the log say it: its message and, for an UpkeepError, its code. */
export function errText(e: unknown): string {
  return isUpkeepError(e) ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
}

/**
 * Makes update.yaml tell the truth about `current`. Returns the notes (empty when nothing was wrong);
 * `restart` says the daemon must be (re)started on `current`.
 */
export async function recover(u: RecoveryContext): Promise<{ notes: string[]; restart: boolean }> {
  const l = u.layout;
  // A switch cut short leaves `current.new-*`: never the truth, removed.
  cleanSymlinkLeftovers(l.current);
  const installed = listInstalledVersions(l.versionsDir).map((v) => ({ name: v.name, complete: v.complete }));
  const plan = planRecovery({
    status: u.state.status,
    current: currentTarget(l),
    installed,
    dirName: u.dirName,
  });
  if (plan.switchTo) await u.installer.switchTo(l.current, join("versions", plan.switchTo));
  u.state = { ...u.state, status: plan.status };
  if (plan.notes.length > 0) {
    u.state.status.lastResult = `recovered: ${plan.notes.join("; ")}`;
    for (const n of plan.notes) u.log(`recovery: ${n}`);
    await u.save();
  }
  // After update.yaml lists them as skipped, their folders go (also one left by an agent killed between
  // recording a rollback and removing the folder). Not before update.yaml exists (enable), and not while
  // a restart is pending: the daemon may still run from a skipped folder (the caller sweeps after it).
  if (!plan.restart) sweepSkipped(u);
  if (plan.rolledBack)
    await u.report({
      state: "rolledback",
      version: plan.status.active,
      failedVersion: plan.rolledBack.version,
      error: plan.rolledBack.reason,
    });
  return { notes: plan.notes, restart: plan.restart };
}

/** Removes the folders of skipped versions (never active, backup or current), once update.yaml exists. */
export function sweepSkipped(u: RecoveryContext): void {
  if (u.persist) for (const v of u.state.status.skip) removeSkipped(u, v);
}

/**
 * Deletes the folder of a version on the skip list (after update.yaml says so), unless it is the active or
 * backup one, or what `current` points at. A failure only logs: the next commit cleans it.
 */
export function removeSkipped(u: RecoveryContext, version: string): void {
  const name = u.dirName(version);
  if (versionsToKeep(u.state.status, u.dirName).includes(name)) return;
  if (currentTarget(u.layout) === name) return;
  try {
    if (removeVersionDir(u.layout.versionsDir, name)) u.log(`removed the skipped version ${name}`);
  } catch (e) {
    u.log(`could not remove the skipped version ${name}: ${errText(e)}`);
  }
}
