/**
 * What a client-tools install records, under the install lock: the verified manifest's serial and floor in
 * tools.json (best effort: a read-only tools dir keeps the record in this run only), versions below the
 * floor removed, old versions cleaned up, and tools.json read afresh where another invocation may have
 * changed it.
 */
import { isBelow } from "../../tools/choose_version.ts";
import { withRefusalsListed } from "../../tools/refused.ts";
import type { ToolsState } from "../../tools/types.ts";
import { MAX_KEPT_VERSIONS } from "../../tools/types.ts";
import { versionsToRemove } from "../../tools/versions_to_remove.ts";
import type { VerifiedManifest } from "../install/mod.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { listInstalledTools } from "./installed.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";

/**
 * Writes a change to this run's own fields of tools.json (under its lock) when the file is still about the same
 * manifest (product and base URL); best effort: a read-only tools dir keeps the change in this run only.
 */
export async function saveOwn(
  dir: string,
  state: ToolsState,
  mutate: (s: ToolsState) => ToolsState,
): Promise<ToolsState> {
  const same = (s: ToolsState) => s.product === state.product && s.baseUrl === state.baseUrl;
  try {
    const next = await updateToolsState(dir, (s) => (same(s) ? mutate(s) : s));
    return same(next) ? next : mutate(state);
  } catch {
    return mutate(state);
  }
}

/**
 * Records a verified manifest in tools.json: its serial and (when it is the newest on record) its floor, then
 * removes the installed versions below the floor on record (under the install lock). Only these fields are
 * this writer's: a login or pin meanwhile is kept, and so is a higher serial on disk; a login to another
 * product or base URL meanwhile is another manifest, left alone. The write is best effort (a read-only tools
 * dir): the state answered carries the record either way, so this run decides with it.
 */
export async function recordManifest(
  dir: string,
  state: ToolsState,
  m: VerifiedManifest,
): Promise<ToolsState> {
  const serial = m.serial;
  const floor = m.manifest.floor;
  const sameManifest = (s: ToolsState) => s.product === state.product && s.baseUrl === state.baseUrl;
  // Refusals of versions the manifest no longer lists go: they can never be chosen from it again.
  const listed = m.manifest.releases.map((r) => r.version);
  const next = await updateToolsState(dir, (s) =>
    sameManifest(s) ? withRefusalsListed(withManifest(s, serial, floor), listed) : s,
  ).catch(() =>
    withRefusalsListed(withManifest(state, Math.max(serial, state.lastSerial ?? serial), floor), listed),
  );
  if (!sameManifest(next)) return withRefusalsListed(withManifest(state, serial, floor), listed);
  if (next.floor) removeBelowFloor(dir, next.floor);
  return next;
}

/** The serial and, from a manifest at least as new as the one on record, its floor. */
function withManifest(s: ToolsState, serial: number, floor: string | null): ToolsState {
  const next = { ...s, lastSerial: serial };
  if (s.lastSerial === undefined || serial >= s.lastSerial) {
    if (floor) next.floor = floor;
    else delete next.floor;
  }
  return next;
}

/**
 * Removes installed versions below the manifest's floor (under the install lock; each a rename first). The
 * version just installed is at or above it (the installer refuses one below).
 */
export function removeBelowFloor(dir: string, floor: string): string[] {
  const removed: string[] = [];
  for (const i of listInstalledTools(dir)) {
    if (!isBelow(i.version, floor)) continue;
    try {
      if (removeVersionDir(dir, i.version)) removed.push(i.version);
    } catch {
      // Best effort: chooseVersion refuses a server-named version below the floor anyway.
    }
  }
  return removed;
}

/**
 * Keeps at most MAX_KEPT_VERSIONS versions, least recently used removed first, never `inUse`. Called under
 * the install lock; each removal is a rename first (remove_version.ts).
 */
export function cleanupOld(dir: string, inUse: string): string[] {
  const used = new Map(listInstalledTools(dir).map((i) => [i.version, i.lastUsed]));
  const remove = versionsToRemove(used, inUse, MAX_KEPT_VERSIONS);
  for (const v of remove) {
    try {
      removeVersionDir(dir, v);
    } catch {
      // Cleanup is best effort: the install itself succeeded.
    }
  }
  return remove;
}

/** tools.json as saved now when it is about the same manifest (product, base URL), else undefined. */
export function freshState(dir: string, state: ToolsState): ToolsState | undefined {
  try {
    const now = readToolsState(dir).state;
    return now.product === state.product && now.baseUrl === state.baseUrl ? now : undefined;
  } catch {
    return undefined;
  }
}

/** The serial saved in tools.json now, or undefined when it cannot be read. */
export function freshSerial(dir: string): number | undefined {
  try {
    return readToolsState(dir).state.lastSerial;
  } catch {
    return undefined;
  }
}

export function maxSerial(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
