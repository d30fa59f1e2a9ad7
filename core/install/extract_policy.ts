/**
 * What may be extracted from a release tarball (DESIGN §6), decided entry by entry before any byte of it
 * is written. Pure: core/sys/install/extract.ts performs the actions this returns.
 *
 * Refused, never silently stripped or skipped (E_UNSAFE_ARCHIVE naming the entry): absolute paths, `..`
 * components, NUL bytes in names, symlinks that are absolute or climb out of the tree, hardlinks to
 * anything but a regular file extracted before them, character/block devices and fifos, unknown entry
 * types, setuid/setgid/sticky bits, an entry under a symlink or a file (no write ever goes through a
 * link), an entry that appears twice (except a directory), more than `maxFiles` entries, more than
 * `maxBytes` of file data.
 *
 * Symlink rule: after normalization a target is `../`×k followed by plain names, with k at most the depth
 * of the link's folder. Descending through other links is fine (each of them obeys the same rule), and no
 * `..` follows a name, so the lexical check is also the physical one.
 */
import { UpkeepError } from "../errors.ts";
import type { TarEntry } from "./tar.ts";

export interface ExtractLimits {
  /** Most entries (files, folders, links, including folders implied by paths). */
  maxFiles: number;
  /** Most bytes of file data, in total. */
  maxBytes: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxFiles: 10_000, maxBytes: 4 * 1024 * 1024 * 1024 };

/** The completion marker's name; an archive may not carry a file of that name. */
export const MARKER_FILE = ".upkeep-complete";

const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
const MAX_DEPTH = 128;

export type ExtractAction =
  | { kind: "skip" }
  | { kind: "directory"; path: string; mkdirs: string[] }
  | { kind: "file"; path: string; mode: number; size: number; mkdirs: string[] }
  | { kind: "symlink"; path: string; target: string; mkdirs: string[] }
  | { kind: "hardlink"; path: string; target: string; mkdirs: string[] };

type Node = "directory" | "file" | "symlink";

export function unsafe(entry: string, why: string): UpkeepError {
  return new UpkeepError("E_UNSAFE_ARCHIVE", `unsafe archive entry "${printable(entry)}": ${why}`);
}

/** The name as shown in messages: control characters escaped, long names cut. */
export function printable(name: string): string {
  let s = "";
  for (const ch of name.length > 200 ? name.slice(0, 200) : name) {
    const c = ch.charCodeAt(0);
    s += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, "0")}` : ch;
  }
  return name.length > 200 ? `${s}...` : s;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/**
 * An archive path as components: "" and "." dropped. Refuses NUL, absolute paths, `..` anywhere, over-long
 * names, too deep paths and the marker file's name.
 */
export function normalizeEntryPath(raw: string, what = "path", entry = raw): string[] {
  const shown = what === "path" ? "" : ` "${printable(raw)}"`;
  if (raw.includes("\0")) throw unsafe(entry, `the ${what}${shown} contains a NUL byte`);
  if (raw.startsWith("/")) throw unsafe(entry, `absolute ${what}${shown}`);
  if (utf8Length(raw) > MAX_PATH_BYTES)
    throw unsafe(entry, `${what}${shown} longer than ${MAX_PATH_BYTES} bytes`);
  const parts: string[] = [];
  for (const c of raw.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") throw unsafe(entry, `the ${what}${shown} has a ".." component`);
    if (utf8Length(c) > MAX_NAME_BYTES)
      throw unsafe(entry, `a name in the ${what}${shown} is longer than ${MAX_NAME_BYTES} bytes`);
    if (c === MARKER_FILE) throw unsafe(entry, `"${MARKER_FILE}" is reserved for upkeep's completion marker`);
    parts.push(c);
  }
  if (parts.length > MAX_DEPTH)
    throw unsafe(entry, `the ${what}${shown} is more than ${MAX_DEPTH} levels deep`);
  return parts;
}

/**
 * Why a symlink at `linkPath` (components from the tree's root) pointing at `target` is unsafe, or
 * undefined when it stays inside the tree by the rule above. Also used to re-check links after the
 * release's top folder is stripped.
 */
export function symlinkProblem(linkPath: readonly string[], target: string): string | undefined {
  if (target === "") return "empty symlink target";
  if (target.includes("\0")) return "the symlink target contains a NUL byte";
  if (target.startsWith("/")) return `symlink to the absolute path "${printable(target)}"`;
  const depth = linkPath.length - 1;
  let up = 0;
  let descended = false;
  for (const c of target.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (descended) return `symlink target "${printable(target)}" climbs with ".." after a name`;
      up++;
    } else descended = true;
  }
  if (up > depth) return `symlink target "${printable(target)}" points outside the tree`;
  return undefined;
}

/** The target written for a symlink: "." components and repeated slashes removed. */
export function normalizeSymlinkTarget(target: string): string {
  const parts = target.split("/").filter((c) => c !== "" && c !== ".");
  return parts.length === 0 ? "." : parts.join("/");
}

const DEVICE: Record<string, string> = {
  "character-device": "a character device",
  "block-device": "a block device",
  fifo: "a fifo",
};

export class ExtractPolicy {
  readonly limits: ExtractLimits;
  /** Entries admitted, including implied folders. */
  files = 0;
  /** File data admitted, in bytes. */
  bytes = 0;
  readonly #nodes = new Map<string, Node>();

  constructor(limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS) {
    this.limits = limits;
  }

  #count(raw: string): void {
    this.files++;
    if (this.files > this.limits.maxFiles) {
      throw unsafe(raw, `the archive has more than ${this.limits.maxFiles} entries`);
    }
  }

  /** Checks the parents of `parts` and returns those to create; no write may go through a link or file. */
  #parents(raw: string, parts: readonly string[]): string[] {
    const mkdirs: string[] = [];
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      const node = this.#nodes.get(prefix);
      if (node === undefined) {
        this.#count(raw);
        this.#nodes.set(prefix, "directory");
        mkdirs.push(prefix);
      } else if (node === "symlink") {
        throw unsafe(raw, `it is under "${printable(prefix)}", which is a symlink`);
      } else if (node === "file") {
        throw unsafe(raw, `it is under "${printable(prefix)}", which is a file`);
      }
    }
    return mkdirs;
  }

  /** Decides one entry; throws E_UNSAFE_ARCHIVE naming it when it must not be extracted. */
  admit(e: TarEntry): ExtractAction {
    const raw = e.path;
    const device = DEVICE[e.kind];
    if (device) throw unsafe(raw, `${device}: device and fifo entries are refused`);
    if (e.kind === "other") throw unsafe(raw, `unsupported entry type "${printable(e.typeflag)}"`);
    if ((e.kind === "file" || e.kind === "directory") && (e.mode & 0o7000) !== 0) {
      throw unsafe(raw, `setuid, setgid or sticky bit (mode ${e.mode.toString(8).padStart(4, "0")})`);
    }
    const parts = normalizeEntryPath(raw);
    if (parts.length === 0) {
      if (e.kind === "directory") return { kind: "skip" };
      throw unsafe(raw, "the entry has no name");
    }
    const path = parts.join("/");
    const existing = this.#nodes.get(path);
    if (existing !== undefined) {
      if (existing === "directory" && e.kind === "directory") return { kind: "skip" };
      throw unsafe(raw, "the path appears twice in the archive");
    }
    // Checked before any folder is recorded, so a refused entry leaves no trace.
    let target = "";
    if (e.kind === "symlink") {
      const problem = symlinkProblem(parts, e.linkpath);
      if (problem) throw unsafe(raw, problem);
      target = normalizeSymlinkTarget(e.linkpath);
    } else if (e.kind === "hardlink") {
      const t = normalizeEntryPath(e.linkpath, "hardlink target", raw).join("/");
      if (this.#nodes.get(t) !== "file") {
        throw unsafe(raw, `hardlink to "${printable(e.linkpath)}", which is not a file extracted before it`);
      }
      target = t;
    } else if (e.kind === "file" && this.bytes + e.size > this.limits.maxBytes) {
      throw unsafe(raw, `the archive's files exceed ${this.limits.maxBytes} bytes`);
    }
    const mkdirs = this.#parents(raw, parts);
    this.#count(raw);
    switch (e.kind) {
      case "directory":
        this.#nodes.set(path, "directory");
        return { kind: "directory", path, mkdirs };
      case "symlink":
        this.#nodes.set(path, "symlink");
        return { kind: "symlink", path, target, mkdirs };
      case "hardlink":
        this.#nodes.set(path, "file");
        return { kind: "hardlink", path, target, mkdirs };
      default:
        this.#nodes.set(path, "file");
        this.bytes += e.size;
        return { kind: "file", path, mode: e.mode, size: e.size, mkdirs };
    }
  }
}

/** The mode a regular file is written with: owner can read; nobody else can write; no special bits. */
export function fileMode(archived: number): number {
  return (archived & 0o755) | 0o400;
}
