/**
 * The versions folder's layout (DESIGN §6), pure: version folder names, the completion marker, the release
 * root of an extracted tarball, and which leftovers a cleanup removes.
 *
 *     <versions>/<version>[_ent][_fips]/        a release; valid only with its .upkeep-complete marker
 *     <versions>/.tmp-<random>[...]             extraction in progress or left by a crash: never a version
 *     <versions>/.download-<artifact>.part      a download to resume (kept a day)
 */
import { UpkeepError } from "../errors.ts";
import { compareVersions, formatVersion, tryParseVersion } from "../version/mod.ts";
import { MARKER_FILE } from "./extract_policy.ts";

export { MARKER_FILE };

export interface Platform {
  /** "linux" or "darwin". */
  os: string;
  /** "amd64" or "arm64". */
  arch: string;
  edition: "oss" | "ent";
  fips: boolean;
}

/** `17.0.1`, `17.0.1_ent`, `17.0.1_ent_fips`, `17.0.1_fips`: one folder per build a host may run. */
export function versionDirName(version: string, p: Pick<Platform, "edition" | "fips">): string {
  const v = tryParseVersion(version);
  if (!v) throw new UpkeepError("E_BAD_VERSION", `invalid version "${version}"`);
  return `${formatVersion(v)}${p.edition === "ent" ? "_ent" : ""}${p.fips ? "_fips" : ""}`;
}

/** The version in a version folder's name (undefined for anything else). */
export function parseVersionDirName(
  name: string,
): { version: string; edition: "oss" | "ent"; fips: boolean } | undefined {
  const m = /^(.+?)(_ent)?(_fips)?$/.exec(name);
  const v = m?.[1] ? tryParseVersion(m[1]) : undefined;
  if (!m || !v || formatVersion(v) !== m[1]) return undefined;
  return { version: m[1], edition: m[2] ? "ent" : "oss", fips: m[3] !== undefined };
}

export const TMP_PREFIX = ".tmp-";
export const PART_PREFIX = ".download-";
export const PART_SUFFIX = ".part";

export function partFileName(artifact: string): string {
  return `${PART_PREFIX}${artifact}${PART_SUFFIX}`;
}

export interface Marker {
  version: string;
  artifact: string;
  sha256: string;
  /** RFC 3339. */
  installed_at: string;
}

export function formatMarker(m: Marker): string {
  return `${JSON.stringify(
    { version: m.version, artifact: m.artifact, sha256: m.sha256, installed_at: m.installed_at },
    null,
    2,
  )}\n`;
}

/** A completion marker is a few hundred bytes; a larger file is not one. */
export const MAX_MARKER_BYTES = 64 * 1024;

/**
 * The marker, or undefined when it is not a complete, well-formed marker (a torn write, say). The one rule
 * for "a complete version" (agent and client tools): its folder holds a marker file of at most
 * MAX_MARKER_BYTES that this parses.
 */
export function parseMarker(text: string): Marker | undefined {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof o !== "object" ||
      o === null ||
      typeof o.version !== "string" ||
      typeof o.artifact !== "string" ||
      typeof o.sha256 !== "string" ||
      typeof o.installed_at !== "string" ||
      !/^[0-9a-f]{64}$/.test(o.sha256) ||
      !tryParseVersion(o.version)
    ) {
      return undefined;
    }
    return { version: o.version, artifact: o.artifact, sha256: o.sha256, installed_at: o.installed_at };
  } catch {
    return undefined;
  }
}

export interface TopEntry {
  name: string;
  kind: "directory" | "file" | "symlink" | "other";
}

/**
 * The folder to strip when the archive holds exactly one top-level folder (Teleport style: `teleport/tsh`),
 * or undefined for a flat archive. A lone `bin/` is the flat layout's bin folder, not a wrapper.
 */
export function releaseRootFolder(top: readonly TopEntry[]): string | undefined {
  const [only] = top;
  if (top.length !== 1 || !only || only.kind !== "directory" || only.name === "bin") return undefined;
  return only.name;
}

export interface RootFile {
  name: string;
  kind: TopEntry["kind"];
  mode: number;
}

/**
 * Where binaries go: a release root with a `bin/` folder keeps it; otherwise its root-level regular files
 * with an execute bit move into a new `bin/`. Answers the names to move (empty when bin/ exists).
 */
export function binariesToMove(root: readonly RootFile[]): { createBin: boolean; move: string[] } {
  const bin = root.find((e) => e.name === "bin");
  if (bin) {
    if (bin.kind !== "directory") {
      throw new UpkeepError("E_MALFORMED", 'the release has a "bin" that is not a folder');
    }
    return { createBin: false, move: [] };
  }
  const move = root
    .filter((e) => e.kind === "file" && (e.mode & 0o111) !== 0)
    .map((e) => e.name)
    .sort();
  return { createBin: true, move };
}

export interface DirEntryFacts {
  name: string;
  kind: "directory" | "file" | "symlink" | "other";
  /** Only for folders: the marker is there and well-formed. */
  complete?: boolean;
  mtimeMs: number;
}

export const STALE_PART_MS = 24 * 60 * 60 * 1000;

/**
 * What cleanVersionsDir removes: temp folders, `.part` files older than a day (fresh ones are kept for
 * resume), incomplete version folders, complete ones not in `keep` (folder names). Other files are left.
 */
export function planCleanup(
  entries: readonly DirEntryFacts[],
  keep: readonly string[],
  nowMs: number,
): string[] {
  const kept = new Set(keep);
  const out = planSweep(entries, nowMs);
  for (const e of entries) {
    if (e.kind === "directory" && !e.name.startsWith(".")) {
      if (!e.complete || !kept.has(e.name)) out.push(e.name);
    }
  }
  return out.sort();
}

/**
 * What an install sweeps before it starts: what earlier installs left behind and nobody resumes (temp folders
 * of a crashed or refused run, `.part` files older than a day). Version folders are not touched.
 */
export function planSweep(entries: readonly DirEntryFacts[], nowMs: number): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith(TMP_PREFIX)) out.push(e.name);
    else if (e.name.startsWith(PART_PREFIX) && e.name.endsWith(PART_SUFFIX)) {
      if (e.kind !== "file" || nowMs - e.mtimeMs > STALE_PART_MS) out.push(e.name);
    }
  }
  return out.sort();
}

/** Version folders sorted oldest version first (names that are not versions last, by name). */
export function sortVersionDirNames<T extends { name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => {
    const va = parseVersionDirName(a.name);
    const vb = parseVersionDirName(b.name);
    if (va && vb) {
      const pa = tryParseVersion(va.version);
      const pb = tryParseVersion(vb.version);
      const c = pa && pb ? compareVersions(pa, pb) : 0;
      if (c !== 0) return c;
    } else if (va || vb) return va ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}
