/**
 * Delta downloads (issue 18): a patch rebuilds a release's full artifact from an older one a host verified
 * before. Pure: the patch's file name, its header, and which listed patch a host can use.
 *
 * A patch file is `<new artifact>.from-<old version>.patch`:
 *
 *     UPKEEP-PATCH 1\n
 *     {"from": {...}, "to": {...}, "content": "raw" | "gzip", ...}\n     one JSON line (at most 4 KiB)
 *     <a zstd frame made with `zstd --patch-from=BASE`>
 *
 * `content: "raw"`: the frame decompresses, with the old artifact's bytes as its dictionary, to the new
 * artifact's bytes (upkeep's own executables). `content: "gzip"`: both artifacts are gzip files; the
 * dictionary is the old one decompressed, the frame gives the new one decompressed, and gzip at `gzip_level`
 * (upkeep's own gzip writer, core/sys/release/gzip.ts) gives the new artifact's bytes back. Either way the
 * rebuilt artifact must then have the size and sha256 the signed manifest gives for the full artifact, and
 * its signature verify, before anything is extracted: a patch is never trusted for what it rebuilds.
 */
import { UpkeepError } from "../errors.ts";
import { isRecord, unknownKeys } from "../validate/mod.ts";
import { formatVersion, tryParseVersion } from "../version/mod.ts";

export const PATCH_MAGIC = "UPKEEP-PATCH 1\n";
export const MAX_PATCH_HEADER = 4096;
/**
 * Largest base or target (decompressed) a patch is made for: applying one holds the base in memory as the
 * dictionary plus a window as large as the target, so about 2.5 x this at most (measured: 285 MB of peak
 * RSS for two 114 MB builds of upkeep); above it hosts download the full artifact.
 */
export const MAX_DELTA_BYTES = 1024 * 1024 * 1024;
export const PATCH_SUFFIX = ".patch";
const SHA256 = /^[0-9a-f]{64}$/;

export interface PatchEnd {
  version: string;
  name: string;
  size: number;
  sha256: string;
}

export interface PatchHeader {
  from: PatchEnd;
  to: PatchEnd;
  content: "raw" | "gzip";
  /** gzip: the zlib level that gives the new artifact back from its decompressed bytes. */
  gzip_level?: number;
  /** Bytes of the dictionary (the old artifact, decompressed for gzip). */
  base_bytes: number;
  /** Bytes the frame decompresses to (the new artifact, decompressed for gzip). */
  target_bytes: number;
}

/** `<artifact>.from-<version>.patch`. */
export function patchFileName(artifact: string, fromVersion: string): string {
  const v = tryParseVersion(fromVersion);
  if (!v) throw new UpkeepError("E_BAD_VERSION", `invalid version "${fromVersion}"`);
  return `${artifact}.from-${formatVersion(v)}${PATCH_SUFFIX}`;
}

/** The artifact and canonical from-version a patch name gives; undefined when it is not one. */
export function parsePatchFileName(name: string): { artifact: string; from: string } | undefined {
  if (!name.endsWith(PATCH_SUFFIX)) return undefined;
  const at = name.lastIndexOf(".from-");
  if (at <= 0) return undefined;
  const from = name.slice(at + 6, name.length - PATCH_SUFFIX.length);
  const v = tryParseVersion(from);
  if (!v || formatVersion(v) !== from) return undefined;
  return { artifact: name.slice(0, at), from };
}

function bad(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", `patch header: ${message}`);
}

function count(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad(`${what}: expected a count`);
  return v;
}

function end(v: unknown, what: string): PatchEnd {
  if (!isRecord(v)) throw bad(`${what}: expected an object`);
  const [unknown] = unknownKeys(v, ["version", "name", "size", "sha256"]);
  if (unknown !== undefined) throw bad(`${what}: unknown field "${unknown}"`);
  const version = typeof v.version === "string" ? tryParseVersion(v.version) : undefined;
  if (!version || formatVersion(version) !== v.version) throw bad(`${what}.version: not a canonical version`);
  if (typeof v.name !== "string" || v.name.length === 0 || v.name.length > 255)
    throw bad(`${what}.name: expected a file name`);
  if (typeof v.sha256 !== "string" || !SHA256.test(v.sha256)) throw bad(`${what}.sha256: expected hex`);
  return {
    version: v.version as string,
    name: v.name,
    size: count(v.size, `${what}.size`),
    sha256: v.sha256,
  };
}

export function encodePatchHeader(h: PatchHeader): Uint8Array {
  const json = JSON.stringify({
    from: h.from,
    to: h.to,
    content: h.content,
    ...(h.gzip_level === undefined ? {} : { gzip_level: h.gzip_level }),
    base_bytes: h.base_bytes,
    target_bytes: h.target_bytes,
  });
  const bytes = new TextEncoder().encode(`${PATCH_MAGIC}${json}\n`);
  if (bytes.length > MAX_PATCH_HEADER) throw bad(`longer than ${MAX_PATCH_HEADER} bytes`);
  return bytes;
}

/**
 * The header at the start of a patch file (`head`: its first MAX_PATCH_HEADER bytes or fewer) and where the
 * zstd frame starts. E_MALFORMED when it is not an upkeep patch.
 */
export function parsePatchHeader(head: Uint8Array): { header: PatchHeader; offset: number } {
  const magic = new TextEncoder().encode(PATCH_MAGIC);
  if (head.length < magic.length || magic.some((b, i) => head[i] !== b))
    throw new UpkeepError("E_MALFORMED", "not an upkeep patch (no UPKEEP-PATCH 1 header)");
  const nl = head.indexOf(0x0a, magic.length);
  if (nl < 0) throw bad(`no end of line within ${MAX_PATCH_HEADER} bytes`);
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(magic.length, nl)));
  } catch {
    throw bad("not valid JSON");
  }
  if (!isRecord(o)) throw bad("expected an object");
  const [unknown] = unknownKeys(o, ["from", "to", "content", "gzip_level", "base_bytes", "target_bytes"]);
  if (unknown !== undefined) throw bad(`unknown field "${unknown}"`);
  if (o.content !== "raw" && o.content !== "gzip") throw bad('content: expected "raw" or "gzip"');
  const header: PatchHeader = {
    from: end(o.from, "from"),
    to: end(o.to, "to"),
    content: o.content,
    base_bytes: count(o.base_bytes, "base_bytes"),
    target_bytes: count(o.target_bytes, "target_bytes"),
  };
  if (o.content === "gzip") {
    const level = o.gzip_level;
    if (typeof level !== "number" || !Number.isInteger(level) || level < 0 || level > 9)
      throw bad("gzip_level: expected 0..9");
    header.gzip_level = level;
  } else if ("gzip_level" in o) throw bad("gzip_level goes with content gzip");
  if (header.base_bytes > MAX_DELTA_BYTES || header.target_bytes > MAX_DELTA_BYTES)
    throw bad(`base or target larger than ${MAX_DELTA_BYTES} bytes`);
  if (
    header.content === "raw" &&
    (header.base_bytes !== header.from.size || header.target_bytes !== header.to.size)
  )
    throw bad("raw content: base_bytes and target_bytes must be the artifacts' sizes");
  return { header, offset: nl + 1 };
}

/** A patch the manifest lists for an artifact. */
export interface ListedPatch {
  /** The version the patch starts from. */
  from: string;
  name: string;
  size: number;
  sha256: string;
  /** sha256 of the artifact of `from` the patch applies to (the base's exact bytes). */
  base_sha256: string;
}

/** An installed version a host could patch from: its verified artifact's sha256 (the install marker's). */
export interface Base {
  version: string;
  sha256: string;
}

/**
 * The patch to download: the first base (in the caller's order of preference: active, then backup) that a
 * listed patch starts from, with the exact bytes it was made from, and only when the patch is smaller than
 * the full artifact. Undefined: download the full artifact.
 */
export function choosePatch(
  patches: readonly ListedPatch[] | undefined,
  bases: readonly Base[],
  fullSize: number,
): { patch: ListedPatch; base: Base } | undefined {
  if (!patches || patches.length === 0) return undefined;
  for (const base of bases) {
    const patch = patches.find((p) => p.from === base.version && p.base_sha256 === base.sha256);
    if (patch && patch.size < fullSize) return { patch, base };
  }
  return undefined;
}
