/**
 * The updater's folder `<install-dir>/updater/` (one updater for every namespace of an install dir): its
 * layout, the versions kept in it and `current`, state.json, and update.lock (self_update.ts updates it).
 */
import { existsSync, readlinkSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  emptySelfState,
  formatSelfState,
  heartbeat,
  parseSelfState,
  type SelfState,
  selfVersionsToKeep,
} from "../../agent/self_update.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { errorCodeOf } from "../io_error.ts";
import { acquireLock, type Lock } from "../lock.ts";

/** `<install-dir>/updater/`: one updater for every namespace of an install dir. */
export interface SelfLayout {
  dir: string;
  versionsDir: string;
  current: string;
  stateFile: string;
  lockFile: string;
  workDir: string;
}

export function selfLayout(installDir: string): SelfLayout {
  const dir = join(installDir, "updater");
  return {
    dir,
    versionsDir: join(dir, "versions"),
    current: join(dir, "current"),
    stateFile: join(dir, "state.json"),
    lockFile: join(dir, "update.lock"),
    workDir: join(dir, "tmp"),
  };
}

/** The executable of an updater version. */
export function selfBinary(l: SelfLayout, version: string): string {
  return join(l.versionsDir, version, "upkeep");
}

/** The version `current` points at, when its executable is there. */
export function currentSelfVersion(l: SelfLayout): string | undefined {
  try {
    const v = basename(readlinkSync(l.current));
    return existsSync(selfBinary(l, v)) ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function readSelfState(l: SelfLayout, log?: (m: string) => void): Promise<SelfState> {
  let text: string;
  try {
    text = await readFile(l.stateFile, "utf8");
  } catch (e) {
    if (errorCodeOf(e) !== "ENOENT") log?.(`cannot read ${l.stateFile}: ${errorCodeOf(e) ?? String(e)}`);
    return emptySelfState();
  }
  const { state, problems } = parseSelfState(text);
  if (problems.length) log?.(`${l.stateFile}: ${problems.join("; ")}`);
  return state;
}

export async function writeSelfState(l: SelfLayout, s: SelfState): Promise<void> {
  await writeFileAtomic(l.stateFile, formatSelfState(s), { mode: 0o644, overwrite: true });
}

/** Takes updater/update.lock (null when another loop holds it: it self-updates, this one waits). */
export async function lockSelf(l: SelfLayout, wait: number): Promise<Lock | null> {
  await mkdir(l.dir, { recursive: true });
  try {
    return await acquireLock(l.lockFile, { waitMs: wait, what: "agent self-update" });
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_LOCKED") return null;
    throw e;
  }
}

/** Runs `fn` under updater/update.lock, waiting for it (up to 60 s). */
export async function withSelfLock<T>(installDir: string, fn: (l: SelfLayout) => Promise<T>): Promise<T> {
  const l = selfLayout(installDir);
  const lock = await lockSelf(l, 60_000);
  if (!lock) throw new UpkeepError("E_LOCKED", `${l.lockFile} stays taken`);
  try {
    return await fn(l);
  } finally {
    lock.release();
  }
}

/** Removes version folders neither kept (active, backup, on trial, current, running) nor in progress. */
export async function cleanSelfVersions(l: SelfLayout, s: SelfState, running: string): Promise<void> {
  const keep = new Set(selfVersionsToKeep(s, currentSelfVersion(l), running));
  let names: string[] = [];
  try {
    names = (await import("node:fs")).readdirSync(l.versionsDir);
  } catch {
    return;
  }
  for (const n of names) {
    if (keep.has(n)) continue;
    const tmp = /\.tmp-(\d+)$/.exec(n);
    if (tmp && Number(tmp[1]) === process.pid) continue;
    await rm(join(l.versionsDir, n), { recursive: true, force: true }).catch(() => {});
  }
}

/** The heartbeat of the running updater after a pass: commits a switch on trial to it. */
export async function writeHeartbeat(c: {
  installDir: string;
  running: string;
  now: Date;
}): Promise<SelfState> {
  return withSelfLock(c.installDir, async (l) => {
    const before = await readSelfState(l);
    const after = heartbeat(before, c.running, c.now);
    await writeSelfState(l, after);
    if (before.updating && !after.updating) await cleanSelfVersions(l, after, c.running);
    return after;
  });
}
