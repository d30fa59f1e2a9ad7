/**
 * The versions folder on disk: which version folders are complete, cleanup of what crashes and old
 * versions leave, and the atomic symlink switch (`current`, tool links).
 */
import { randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, rmSync, type Stats, unlinkSync } from "node:fs";
import { readlink, rename, symlink, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { UpkeepError } from "../../errors.ts";
import {
  type DirEntryFacts,
  MARKER_FILE,
  MAX_MARKER_BYTES,
  type Marker,
  parseMarker,
  planCleanup,
  planSweep,
  sortVersionDirNames,
} from "../../install/layout.ts";
import { errorCodeOf, ioError } from "../io_error.ts";
import { fsyncDir } from "./extract.ts";

/** The marker of a version folder, or undefined when it is not a complete one. */
export function readMarker(dir: string): Marker | undefined {
  try {
    if (!lstatSync(dir).isDirectory()) return undefined;
    const path = join(dir, MARKER_FILE);
    const st = lstatSync(path);
    if (!st.isFile() || st.size > MAX_MARKER_BYTES) return undefined;
    return parseMarker(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** True when `dir` is a folder (not a link) holding a well-formed completion marker. */
export function isCompleteVersionDir(dir: string): boolean {
  return readMarker(dir) !== undefined;
}

/** What a directory entry is, from its lstat (links are never followed). */
export function kindOfStat(st: Stats): DirEntryFacts["kind"] {
  return st.isDirectory() ? "directory" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";
}

function kindOf(path: string): { kind: DirEntryFacts["kind"]; mtimeMs: number } | undefined {
  try {
    const st = lstatSync(path);
    return { kind: kindOfStat(st), mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

function entries(versionsDir: string): string[] {
  try {
    return readdirSync(versionsDir);
  } catch (e) {
    if (errorCodeOf(e) === "ENOENT") return [];
    throw ioError("list", versionsDir, e);
  }
}

/** Version folders (names not starting with "."), oldest version first, with whether each is complete. */
export function listInstalledVersions(
  versionsDir: string,
): { name: string; dir: string; complete: boolean }[] {
  const out: { name: string; dir: string; complete: boolean }[] = [];
  for (const name of entries(versionsDir)) {
    if (name.startsWith(".")) continue;
    const dir = join(versionsDir, name);
    if (kindOf(dir)?.kind !== "directory") continue;
    out.push({ name, dir, complete: isCompleteVersionDir(dir) });
  }
  return sortVersionDirNames(out);
}

/**
 * Removes `.tmp-*` leftovers, `.part` files older than a day, incomplete version folders and complete ones
 * whose name is not in `keep` (folder names or paths). Returns the names removed. The caller holds the
 * lock that keeps installs out meanwhile, and keeps the version `current` points at.
 */
export function cleanVersionsDir(versionsDir: string, keep: string[], now: Date = new Date()): string[] {
  const facts = factsOf(versionsDir, true);
  return removeEntries(
    versionsDir,
    planCleanup(
      facts,
      keep.map((k) => basename(k)),
      now.getTime(),
    ),
  );
}

/**
 * Removes what earlier installs left and nobody resumes: `.tmp-*` folders (a crashed or refused extraction, a
 * removal cut short) and `.part` files older than a day. Version folders are left alone. The caller holds
 * the install lock (no other install is extracting meanwhile). Returns the names removed.
 */
export function sweepLeftovers(versionsDir: string, now: Date = new Date()): string[] {
  return removeEntries(versionsDir, planSweep(factsOf(versionsDir, false), now.getTime()));
}

function factsOf(versionsDir: string, withMarkers: boolean): DirEntryFacts[] {
  const facts: DirEntryFacts[] = [];
  for (const name of entries(versionsDir)) {
    const path = join(versionsDir, name);
    const k = kindOf(path);
    if (!k) continue;
    const complete = withMarkers && k.kind === "directory" ? isCompleteVersionDir(path) : undefined;
    facts.push({ name, ...k, complete });
  }
  return facts;
}

function removeEntries(versionsDir: string, names: string[]): string[] {
  const removed: string[] = [];
  for (const name of names) {
    try {
      rmSync(join(versionsDir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // In use or not ours to remove: try again next time.
    }
  }
  if (removed.length > 0) fsyncDir(versionsDir);
  return removed;
}

function rand(): string {
  return randomBytes(6).toString("hex");
}

async function currentTarget(link: string): Promise<string | undefined> {
  try {
    return await readlink(link);
  } catch (e) {
    const code = errorCodeOf(e);
    if (code === "ENOENT") return undefined;
    if (code === "EINVAL")
      throw new UpkeepError("E_EXISTS", `${link} exists and is not a symlink: not replacing it`);
    throw ioError("read", link, e);
  }
}

/** Points `link` at `target` by renaming a new symlink over it (atomic; the temp link never survives). */
export async function pointAt(link: string, target: string): Promise<void> {
  const tmp = `${link}.new-${rand()}`;
  try {
    await symlink(target, tmp);
    await rename(tmp, link);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw ioError("point", `${link} at ${target}`, e);
  }
  fsyncDir(dirname(link));
}

/**
 * Points `link` at `target` with one rename of a new symlink over it: a reader sees the old target or the
 * new one, never nothing. `revert` puts the previous target back the same way (or removes the link if
 * there was none). A `link` that exists but is not a symlink is E_EXISTS.
 */
export async function switchSymlink(
  link: string,
  target: string,
): Promise<{ previous?: string; revert: () => Promise<void> }> {
  const previous = await currentTarget(link);
  await pointAt(link, target);
  const revert = async () => {
    if (previous !== undefined) await pointAt(link, previous);
    else {
      await unlink(link).catch(() => {});
      fsyncDir(dirname(link));
    }
  };
  return previous === undefined ? { revert } : { previous, revert };
}

/** Removes `<link>.new-*` leftovers of a switch cut short (sync; for startup recovery). */
export function cleanSymlinkLeftovers(link: string): string[] {
  const dir = dirname(link);
  const prefix = `${basename(link)}.new-`;
  const removed: string[] = [];
  for (const name of entries(dir)) {
    if (!name.startsWith(prefix)) continue;
    try {
      if (lstatSync(join(dir, name)).isSymbolicLink()) {
        unlinkSync(join(dir, name));
        removed.push(name);
      }
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}
