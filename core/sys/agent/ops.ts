/**
 * The agent's operations on a namespace, shared by the CLI (one-shot) and the `agent run` loop: open a
 * session (lock, read update.yaml, crash recovery) and then pin, unpin, disable, rollback, uninstall (an update
 * is the session's `updater.pass()`).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type AgentState, addSkip } from "../../agent/mod.ts";
import { agentUnitName, DROP_IN_NAME, daemonUnitName } from "../../agent/systemd.ts";
import { UpkeepError } from "../../errors.ts";
import { acquireLock, type Lock } from "../lock.ts";
import type { Layout } from "./layout.ts";
import { removeLinks } from "./links.ts";
import { realPorts, withUpdaterFields } from "./ports.ts";
import { DetachedBackend, type ServiceBackend } from "./service.ts";
import { readState } from "./state_store.ts";
import { stopOrphan } from "./supervise.ts";
import {
  ExecSystemctl,
  removeUnits,
  type Systemctl,
  SystemdBackend,
  systemctlMust,
  unitOwner,
} from "./systemd.ts";
import { type PassResult, Updater } from "./updater.ts";

export const LOCK_WAIT_MS = 60_000;

export interface Session {
  updater: Updater;
  lock: Lock;
  recovered: string[];
  close(): void;
}

export interface SessionOptions {
  what: string;
  log: (msg: string) => void;
  /** What runs the daemon; default: systemd's for a systemd agent, none for supervise (no loop runs it here). */
  service?: (state: AgentState) => ServiceBackend;
  waitMs?: number;
  signal?: AbortSignal;
}

export function defaultBackend(state: AgentState, ctl: Systemctl = new ExecSystemctl()): ServiceBackend {
  return state.spec.service === "systemd"
    ? new SystemdBackend(ctl, daemonUnitName(state.spec.daemon))
    : new DetachedBackend();
}

/** Takes the lock, reads update.yaml and makes it tell the truth (restarting the daemon if that moved it). */
export async function openSession(l: Layout, o: SessionOptions): Promise<Session> {
  await readState(l); // E_NOT_FOUND with a hint before anything is created
  const lock = await acquireLock(l.lockFile, {
    waitMs: o.waitMs ?? LOCK_WAIT_MS,
    what: o.what,
    onWait: (holder) => o.log(`waiting for another upkeep agent to finish (${holder})`),
  });
  try {
    const state = await readState(l);
    const updater = new Updater({
      layout: l,
      state,
      ...realPorts,
      server: withUpdaterFields(realPorts.server, l.installDir),
      service: (o.service ?? ((s) => defaultBackend(s)))(state),
      log: o.log,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const r = await updater.recover();
    if (r.restart && r.notes.length > 0)
      await updater.restartIfManaged().catch((e) => {
        // update.yaml already tells the truth; the next pass's health check judges what runs. A failed
        // restart must not make every command (status, rollback) fail.
        o.log(`restarting the daemon after recovery failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    // Now that the daemon runs from `current`, a skipped version's folder can go.
    if (r.restart) updater.sweepSkipped();
    return { updater, lock, recovered: r.notes, close: () => lock.release() };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** `pin [VERSION]`: install VERSION if given (whatever the server or the skip list says), then pin. */
export async function opPin(u: Updater, version: string | undefined): Promise<PassResult> {
  const st = u.state;
  let result: PassResult | undefined;
  if (version !== undefined && version !== st.status.active) {
    result = await u.pass({ force: version, forceWhy: "pin" });
    if (result.outcome !== "updated" && result.outcome !== "switched" && result.outcome !== "unchanged")
      throw new UpkeepError(result.code ?? "E_IO", `cannot pin ${version}: ${result.message}`);
  }
  if (!st.status.active)
    throw new UpkeepError("E_NOT_FOUND", "nothing is installed to pin", {
      hint: "pass a version: upkeep agent pin 1.2.3",
    });
  st.spec.pinned = true;
  st.status.lastResult = `pinned to ${st.status.active}`;
  await u.save();
  return (
    result ?? {
      outcome: "unchanged",
      from: st.status.active,
      to: st.status.active,
      message: st.status.lastResult,
    }
  );
}

export async function opUnpin(u: Updater): Promise<void> {
  u.state.spec.pinned = false;
  u.state.status.lastResult = "unpinned: the server's version applies again at the next pass";
  await u.save();
}

export async function opDisable(u: Updater): Promise<void> {
  u.state.spec.enabled = false;
  u.state.status.lastResult = `disabled: no more updates; the daemon keeps running ${u.state.status.active || "nothing"}`;
  await u.save();
}

/** `rollback`: back to the backup version (installed, so no network), and skip the version left. */
export async function opRollback(u: Updater): Promise<PassResult> {
  const st = u.state;
  const backup = st.status.backup;
  if (!backup || !u.installer.isInstalled(join(u.layout.versionsDir, u.dirName(backup))))
    throw new UpkeepError(
      "E_NOT_FOUND",
      `no backup version to roll back to${backup ? ` (${backup} is not installed)` : ""}`,
      {
        hint: "a backup exists after an update; `upkeep agent pin VERSION` installs a given version",
      },
    );
  const left = st.status.active;
  const result = await u.pass({ force: backup, forceWhy: "rollback to the backup version" });
  if (result.outcome !== "updated" && result.outcome !== "switched")
    throw new UpkeepError(result.code ?? "E_UNHEALTHY", `rollback to ${backup} failed: ${result.message}`);
  // The operator's choice, not a failure of the release: kept apart so it is never reported as failed.
  if (left) addSkip(st.status, left, true);
  st.status.lastResult = `rolled back from ${left} to ${backup} by the operator; ${left} is skipped (upkeep agent pin ${left} forces it)`;
  await u.save();
  return { ...result, message: st.status.lastResult };
}

/** What `agent uninstall` did: the paths removed (units, links, the namespace folder), the daemon stopped. */
export interface UninstallResult {
  removed: string[];
  stopped_pid: number | null;
}

/**
 * Removes units (systemd), links and the namespace folder. The loop, if any, was asked to stop by the
 * caller. Takes the run lock (a loop still shutting down, or one starting) and the namespace lock (a
 * one-shot `agent update` in the middle of a switch) first, so nothing is removed under another updater.
 */
export async function opUninstall(
  l: Layout,
  state: AgentState | undefined,
  o: { log: (m: string) => void; ctl?: Systemctl; waitMs?: number },
): Promise<UninstallResult> {
  const waitMs = o.waitMs ?? LOCK_WAIT_MS;
  const onWait = (holder: string) => o.log(`waiting for another upkeep agent to finish (${holder})`);
  const runLock = await acquireLock(l.runLockFile, {
    // The whole wait: a loop asked to stop may finish a pass (15 s) and stop its daemon (10 s) first.
    waitMs,
    what: "agent uninstall",
    onWait,
    busy: {
      who: "an `upkeep agent run` loop",
      hint: "it is still running: stop it (or its service) first, or wait longer with --lock-wait",
    },
  });
  try {
    const lock = await acquireLock(l.lockFile, { waitMs, what: "agent uninstall", onWait });
    try {
      return await uninstallLocked(l, state, o);
    } finally {
      lock.release();
    }
  } finally {
    runLock.release();
  }
}

async function uninstallLocked(
  l: Layout,
  state: AgentState | undefined,
  o: { log: (m: string) => void; ctl?: Systemctl },
): Promise<UninstallResult> {
  const removed: string[] = [];
  const stopped = await stopOrphan(l.daemonPid, 10_000);
  if (state?.spec.service === "systemd") {
    const ctl = o.ctl ?? new ExecSystemctl();
    const dir = state.spec.systemdDir;
    const agentUnit = agentUnitName(l.namespace);
    const daemonUnit = daemonUnitName(state.spec.daemon);
    await ctl.run(["disable", "--now", agentUnit]);
    // A unit that cannot be read is left alone, as the operator's.
    const ours = (await unitOwner(join(dir, daemonUnit)).catch(() => "operator")) === "upkeep";
    if (ours) await ctl.run(["disable", "--now", daemonUnit]);
    removed.push(
      ...(await removeUnits(dir, [
        agentUnit,
        ...(ours ? [daemonUnit] : []),
        `${daemonUnit}.d/${DROP_IN_NAME}`,
      ])),
    );
    await systemctlMust(ctl, ["daemon-reload"]);
  }
  if (state) removed.push(...(await removeLinks(l, state.spec.binDir)));
  await rm(l.root, { recursive: true, force: true });
  removed.push(l.root);
  return { removed, stopped_pid: stopped || null };
}
