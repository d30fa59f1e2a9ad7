/**
 * What `upkeep release pack` puts in a release tarball, pure: the folder's entries in, the archive's
 * entries out (or a refusal naming the file at fault). core/sys/release/pack.ts walks the folder and
 * writes the archive.
 *
 * - Layout: the archive holds the release tree itself (no top folder), as the installer lays it out
 *   (core/install/layout.ts): a folder with a `bin/` keeps its tree as is; otherwise its top-level
 *   executable files move into a new `bin/` (the installer's normalization, done here so the archive
 *   shows what hosts will run). Something must be runnable in `bin/`.
 * - Reproducible: entries sorted by name, folders 0755, files 0755 when any execute bit is set else 0644,
 *   owner 0:0, mtime 0. The same folder gives the same bytes.
 * - Refused (never silently dropped or altered): fifos, sockets and devices; setuid/setgid/sticky files;
 *   symlinks that are absolute or leave the tree; and whatever the installer's own policy
 *   (core/install/extract_policy.ts) would refuse: more than 10,000 entries or 4 GiB, over-long names,
 *   the completion marker's name. Every archive pack writes is one the installer accepts.
 */
import { UpkeepError, UsageError } from "../errors.ts";
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits, ExtractPolicy } from "../install/extract_policy.ts";
import { binariesToMove, type RootFile } from "../install/layout.ts";

export interface SourceEntry {
  /** The path inside the packed folder, "/"-separated, without a leading "./". */
  path: string;
  kind: "file" | "directory" | "symlink" | "other";
  /** Permission bits, including setuid/setgid/sticky. */
  mode: number;
  /** Bytes (files). */
  size: number;
  /** The symlink's target as stored. */
  target?: string;
  /** For "other": what it is ("a fifo", "a socket", "a character device"...). */
  what?: string;
}

export interface PackEntry {
  /** The name in the archive; folders end with "/". */
  name: string;
  kind: "file" | "directory" | "symlink";
  mode: number;
  size: number;
  /** Files: the path inside the packed folder the bytes come from. */
  source: string;
  /** Symlinks: the target. */
  target: string;
}

export interface PackPlan {
  entries: PackEntry[];
  /** Top-level executables moved into bin/ (empty when the folder has its own bin/). */
  moved: string[];
  /** What bin/ holds that can run (executable files and symlinks), by name. */
  binaries: string[];
  /** Bytes of file data. */
  bytes: number;
  /** Things the release engineer should know (no bin/PRODUCT...). */
  warnings: string[];
}

export const DIR_MODE = 0o755;
export const EXEC_MODE = 0o755;
export const FILE_MODE = 0o644;

function refuse(label: string, path: string, why: string, hint?: string): UsageError {
  return new UsageError(`cannot pack ${label}/${path}: ${why}`, {
    code: "E_UNSAFE_ARCHIVE",
    ...(hint ? { hint } : {}),
  });
}

/**
 * Plans the archive of a folder's entries. `label` names the folder in messages (as the user gave it).
 * Throws a UsageError (E_UNSAFE_ARCHIVE) naming the first entry that cannot be packed.
 */
export function planPack(
  source: readonly SourceEntry[],
  o: { label: string; product: string; limits?: ExtractLimits },
): PackPlan {
  const label = o.label.replace(/\/+$/, "") || "/";
  refuseSpecial(source, label);
  const layout = binLayout(source, label);
  const entries = packEntries(source, layout);
  const policy = admitAll(entries, label, o.limits ?? DEFAULT_EXTRACT_LIMITS);
  const binaries = entries
    .filter((e) => /^bin\/[^/]+$/.test(e.name) && (e.kind === "symlink" || e.mode === EXEC_MODE))
    .map((e) => e.name.slice(4));
  if (binaries.length === 0)
    throw new UsageError(
      layout.createBin
        ? `nothing to run in ${label}: no bin/ folder and no executable file at its top`
        : `nothing to run in ${label}: no executable file in ${label}/bin/`,
      {
        code: "E_MALFORMED",
        hint: `hosts run bin/<daemon> (by default bin/${o.product}): put it there and make it executable (chmod +x)`,
      },
    );
  const warnings: string[] = [];
  if (!binaries.includes(o.product))
    warnings.push(
      `no bin/${o.product}: agents run bin/${o.product} unless enabled with --daemon NAME (bin/ has ${binaries.join(", ")})`,
    );
  return { entries, moved: layout.move, binaries, bytes: policy.bytes, warnings };
}

/** Special files and setuid/setgid/sticky bits: hosts refuse them, so pack does first. */
function refuseSpecial(source: readonly SourceEntry[], label: string): void {
  for (const e of source) {
    if (e.kind === "other")
      throw refuse(
        label,
        e.path,
        `${e.what ?? "a special file"}: a release holds only files, folders and symlinks`,
        "remove it from the folder (or pack a copy without it)",
      );
    if (e.kind === "file" && (e.mode & 0o7000) !== 0)
      throw refuse(
        label,
        e.path,
        `setuid, setgid or sticky bit (mode ${(e.mode & 0o7777).toString(8).padStart(4, "0")}): hosts refuse such files`,
        `chmod u-s,g-s,-t ${label}/${e.path}`,
      );
  }
}

/** Where binaries go: the installer's rule, applied here. */
function binLayout(source: readonly SourceEntry[], label: string): { createBin: boolean; move: string[] } {
  const root: RootFile[] = source
    .filter((e) => !e.path.includes("/"))
    .map((e) => ({ name: e.path, kind: e.kind, mode: e.mode }));
  try {
    return binariesToMove(root);
  } catch (e) {
    if (e instanceof UpkeepError) throw refuse(label, "bin", "it is not a folder", "executables go in bin/");
    throw e;
  }
}

/** The archive's entries, normalized (modes, bin/ moves), in byte order of their names. */
function packEntries(
  source: readonly SourceEntry[],
  layout: { createBin: boolean; move: string[] },
): PackEntry[] {
  const moving = new Set(layout.move);
  const entries: PackEntry[] = [];
  if (layout.createBin)
    entries.push({ name: "bin/", kind: "directory", mode: DIR_MODE, size: 0, source: "", target: "" });
  for (const e of source) {
    const name = moving.has(e.path) ? `bin/${e.path}` : e.path;
    if (e.kind === "directory")
      entries.push({
        name: `${name}/`,
        kind: "directory",
        mode: DIR_MODE,
        size: 0,
        source: e.path,
        target: "",
      });
    else if (e.kind === "symlink")
      entries.push({ name, kind: "symlink", mode: 0o777, size: 0, source: e.path, target: e.target ?? "" });
    else {
      const mode = (e.mode & 0o111) !== 0 ? EXEC_MODE : FILE_MODE;
      entries.push({ name, kind: "file", mode, size: e.size, source: e.path, target: "" });
    }
  }
  // Byte order of the names (not the locale's): a parent folder ("a/") sorts before what is inside it.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries;
}

/** The installer's own decision on every entry, in archive order: what hosts would refuse is refused here. */
function admitAll(entries: PackEntry[], label: string, limits: ExtractLimits): ExtractPolicy {
  const policy = new ExtractPolicy(limits);
  entries.forEach((e, index) => {
    try {
      policy.admit({
        path: e.name,
        kind: e.kind,
        typeflag: e.kind === "directory" ? "5" : e.kind === "symlink" ? "2" : "0",
        mode: e.mode,
        size: e.size,
        linkpath: e.target,
        index,
      });
    } catch (err) {
      if (!(err instanceof UpkeepError) || err.code !== "E_UNSAFE_ARCHIVE") throw err;
      const why = err.message.replace(/^unsafe archive entry "(?:[^"\\]|\\.)*": /, "");
      const shown = e.source || e.name.replace(/\/$/, "");
      throw refuse(label, shown, `hosts would refuse it: ${why}`);
    }
  });
  return policy;
}
