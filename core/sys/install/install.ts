/**
 * installVersion: one release version from the host's base URL into `<versionsDir>/<version>[_ent][_fips]`,
 * verified and extracted safely, complete or not there at all (DESIGN §6). Shared by the agent and tools.
 *
 * Steps, each safe to kill (fault points `install:<step>` for the crash tests):
 *   start            the manifest says the version exists for this platform and is not below its floor
 *   space-checked    free space >= 2 x size + 64 MiB
 *   mid-download     the first chunk of the artifact is in `.download-<name>.part` (resumable)
 *   downloaded       all bytes there, SHA-256 and BLAKE2b-512 taken on the way
 *   signature        `<name>.minisig` fetched
 *   verified         signature by a trusted key naming the file, size and sha256 as the manifest says
 *   mid-extract      the first entry is being written into `.tmp-<random>/`
 *   extracted        every entry written and fsync-ed
 *   layout           one top folder stripped, binaries in bin/, symlinks re-checked
 *   marker           `.upkeep-complete` written and fsync-ed (the last write in the temp folder)
 *   renamed          the temp folder renamed to its version name (the commit point)
 *   done             the `.part` removed
 * A kill before "renamed" leaves only `.tmp-*` and `.part` files, which are never taken for a version;
 * the next run resumes the download and starts the extraction again.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { type ExtractLimits, symlinkProblem, unsafe } from "../../install/extract_policy.ts";
import {
  binariesToMove,
  formatMarker,
  MARKER_FILE,
  type Platform,
  partFileName,
  releaseRootFolder,
  TMP_PREFIX,
  type TopEntry,
  versionDirName,
} from "../../install/layout.ts";
import { checkUrl, joinUrl } from "../../install/url.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import { findArtifact, findRelease } from "../../trust/manifest.ts";
import { verifyArtifact } from "../../trust/verify_release.ts";
import { formatVersion, tryParseVersion } from "../../version/mod.ts";
import { faultPoint } from "../fault.ts";
import { digestFile, fileSize } from "../hash.ts";
import { readMarker, sweepLeftovers } from "./dirs.ts";
import { type Downloaded, downloadArtifact } from "./download.ts";
import { cancelled, DEFAULT_EXTRACT_LIMITS, extractTarGz, fsyncDir, makeDir } from "./extract.ts";
import { fetchSignature, type InstallSource, refusalError, type VerifiedManifest } from "./manifest.ts";

/** The fault points installVersion passes, in order. */
export const INSTALL_STEPS = [
  "start",
  "space-checked",
  "mid-download",
  "downloaded",
  "signature",
  "verified",
  "mid-extract",
  "extracted",
  "layout",
  "marker",
  "renamed",
  "done",
] as const;
export type InstallStep = (typeof INSTALL_STEPS)[number];

/** Free space asked for beyond the download and the unpacked files. */
export const SPACE_MARGIN = 64 * 1024 * 1024;

/**
 * Without the manifest's `unpacked_size`, the unpacked files are taken as this many times the artifact: gzip
 * packs executables 2-3x (Go and Rust binaries about 3x), so 4x covers the releases this installs, with room.
 * A release that packs tighter carries `unpacked_size` (`upkeep release manifest` writes it).
 */
export const UNPACKED_FACTOR = 4;

export interface InstallOptions {
  source: InstallSource;
  manifest: VerifiedManifest;
  version: string;
  platform: Platform;
  /** `<install-dir>/<ns>/versions`, or the tools folder. */
  versionsDir: string;
  limits?: ExtractLimits;
  /** Aborting removes the partial download and the temp folder (E_CANCELLED). */
  signal?: AbortSignal;
  onProgress?: (p: { received: number; total: number }) => void;
  /** Give a request up after this long without receiving a byte (default 60 s; E_NETWORK). */
  idleTimeoutMs?: number;
  /** Called as each step is reached (after its fault point), for logs. */
  onStep?: (step: InstallStep) => void;
  /**
   * Version folder names a program may be running from (the agent's `current`). A complete folder of the
   * version whose marker names other bytes than the manifest (a version re-published with other bytes) is
   * installed afresh, replacing it, unless it is one of these: then E_CONFLICT and the folder is left alone.
   */
  inUse?: readonly string[];
}

function rand(): string {
  return randomBytes(8).toString("hex");
}

function step(name: InstallStep, opts: InstallOptions): void {
  faultPoint(`install:${name}`);
  opts.onStep?.(name);
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return Number.POSITIVE_INFINITY; // no statfs here: let the writes tell
  }
}

/** Bytes a `.part` already holds (a download to resume), 0 when there is none. */
function partBytes(part: string, max: number): number {
  try {
    const st = lstatSync(part);
    return st.isFile() && st.size <= max ? st.size : 0;
  } catch {
    return 0;
  }
}

function remove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // sweepLeftovers gets it at the next install
  }
}

/** Codes by which the installer judges verified bytes: a release that will be refused again, on any host. */
function refusesRelease(e: unknown): boolean {
  return isUpkeepError(e) && (e.code === "E_UNSAFE_ARCHIVE" || e.code === "E_MALFORMED");
}

/**
 * Installs `version` for `platform`, or reuses its complete folder (`reused: true`) when its marker names the
 * manifest's artifact and sha256. Refusals carry the trust library's codes (E_NOT_IN_MANIFEST,
 * E_BELOW_FLOOR, E_EXPIRED, E_SIGNATURE, E_CHECKSUM, E_SIZE), E_UNSAFE_ARCHIVE and E_MALFORMED from the
 * extractor and the layout (only ever about bytes that verified: a malformed signature is E_SIGNATURE),
 * E_CONFLICT (a re-published version whose folder is in use), E_NO_SPACE, E_NETWORK, E_CANCELLED.
 *
 * The caller holds the install lock of `versionsDir`: leftovers of earlier runs (`.tmp-*`, `.part` older
 * than a day) are swept first. Whatever fails, everything this run created is removed (its temp folders;
 * the `.part` too when the bytes were refused or the install cancelled; a verified `.part` is kept when the
 * failure was local, e.g. E_IO, for the next run to extract without downloading again).
 */
export async function installVersion(opts: InstallOptions): Promise<{ dir: string; reused: boolean }> {
  const { source, platform, versionsDir } = opts;
  const manifest = opts.manifest.manifest;
  const insecure = source.insecure ?? false;
  checkUrl(source.baseUrl, insecure);
  if (manifest.product !== source.product) {
    throw new UpkeepError("E_MALFORMED", `the manifest is for ${manifest.product}, not ${source.product}`);
  }
  const parsed = tryParseVersion(opts.version);
  if (!parsed) throw new UpkeepError("E_BAD_VERSION", `invalid version "${opts.version}"`);
  const version = formatVersion(parsed);
  findRelease(manifest, version);
  const name = formatArtifactName({
    product: source.product,
    edition: platform.edition,
    version,
    os: platform.os,
    arch: platform.arch,
    fips: platform.fips,
  });
  const { artifact } = findArtifact(manifest, name);
  const dirName = versionDirName(version, platform);
  const dir = join(versionsDir, dirName);
  const part = join(versionsDir, partFileName(name));
  try {
    sweepLeftovers(versionsDir);
  } catch {
    // An unreadable folder: the install itself says what is wrong with it.
  }
  const marker = readMarker(dir);
  if (marker && marker.sha256 === artifact.sha256 && marker.artifact === name) {
    // A kill between the rename and the .part removal leaves the download behind: it is of no more use.
    if (existsSync(part)) remove(part);
    return { dir, reused: true };
  }
  if (marker && opts.inUse?.includes(dirName)) {
    throw new UpkeepError(
      "E_CONFLICT",
      `${dir} holds ${marker.artifact} with sha256 ${marker.sha256}, but the manifest lists ${name} with sha256 ${artifact.sha256} (re-published with other bytes); it is in use, so it is not replaced`,
      { hint: `switch away from ${version} first (or ask the release engineer why ${version} changed)` },
    );
  }

  try {
    makeDir(versionsDir, true);
  } catch (e) {
    throw new UpkeepError(
      "E_IO",
      `cannot create ${versionsDir}: ${(e as { code?: string }).code ?? String(e)}`,
    );
  }
  step("start", opts);

  const toDownload = artifact.size - partBytes(part, artifact.size);
  const unpacked = artifact.unpacked_size ?? artifact.size * UNPACKED_FACTOR;
  const need = toDownload + unpacked + SPACE_MARGIN;
  const free = freeBytes(versionsDir);
  if (free < need) {
    const how =
      artifact.unpacked_size === undefined
        ? `${unpacked} unpacked (${UNPACKED_FACTOR} x its size: the manifest gives no unpacked_size)`
        : `${unpacked} unpacked (the manifest's unpacked_size)`;
    throw new UpkeepError(
      "E_NO_SPACE",
      `${versionsDir} has ${free} bytes free; installing ${name} needs ${need}: ${toDownload} to download, ${how} and a ${SPACE_MARGIN}-byte margin`,
    );
  }
  step("space-checked", opts);

  const url = joinUrl(source.baseUrl, name);
  const downloaded = await downloadArtifact({
    url,
    path: part,
    size: artifact.size,
    insecure,
    signal: opts.signal,
    onProgress: opts.onProgress,
    ...(opts.idleTimeoutMs === undefined ? {} : { idleMs: opts.idleTimeoutMs }),
    onFirstChunk: () => step("mid-download", opts),
  });
  step("downloaded", opts);

  // Every temp folder this run makes: removed whatever happens (the stage is renamed into place at the commit).
  const temps: string[] = [];
  const newTemp = () => {
    const t = join(versionsDir, `${TMP_PREFIX}${rand()}`);
    temps.push(t);
    return t;
  };
  let removePart = false;
  try {
    let signature: string;
    try {
      signature = new TextDecoder().decode(
        await fetchSignature(`${url}.minisig`, { insecure, signal: opts.signal, idleMs: opts.idleTimeoutMs }),
      );
    } catch (e) {
      throw signatureProblem(e, name);
    }
    step("signature", opts);

    // The trust library decides; the digests taken during the download stand in for a second read of
    // the file, as long as it is still the file they were taken of.
    const verdict = await verifyArtifact(
      {
        path: part,
        signature,
        trustedKeys: source.trustedKeys,
        manifest,
        expectedName: name,
        now: new Date(),
      },
      { size: fileSize, digest: async (p) => (sameFile(p, downloaded) ? downloaded : digestFile(p)) },
    );
    if (!verdict.ok) {
      removePart = true; // bad bytes: resuming them would never verify
      throw signatureProblem(refusalError(verdict, name), name);
    }
    step("verified", opts);
    if (opts.signal?.aborted) throw cancelled();

    const tmp = newTemp();
    let first = true;
    await extractTarGz(part, tmp, opts.limits ?? DEFAULT_EXTRACT_LIMITS, {
      signal: opts.signal,
      onEntry: () => {
        if (first) {
          first = false;
          step("mid-extract", opts);
        }
      },
      ...(artifact.unpacked_size === undefined ? {} : { unpackedSize: artifact.unpacked_size }),
    });
    step("extracted", opts);

    const stage = normalizeLayout(tmp, newTemp);
    step("layout", opts);

    writeMarker(stage, {
      version,
      artifact: name,
      sha256: artifact.sha256,
      installed_at: new Date().toISOString(),
    });
    step("marker", opts);

    commit(stage, dir, artifact.sha256);
    step("renamed", opts);
  } catch (e) {
    // A release the extractor or the layout refuses will be refused again: its bytes are of no more use.
    if (refusesRelease(e) || (isUpkeepError(e) && e.code === "E_CANCELLED")) removePart = true;
    for (const t of temps) remove(t);
    if (removePart) remove(part);
    throw e;
  }
  for (const t of temps) remove(t); // the stage is renamed away; an emptied top folder may remain
  try {
    unlinkSync(part);
  } catch {
    // already gone
  }
  step("done", opts);
  return { dir, reused: false };
}

/**
 * Anything wrong with the artifact's signature file (missing, oversized, not a minisign signature) is
 * E_SIGNATURE: a mirror may serve a broken one for a while; E_MALFORMED stays a verdict on verified bytes.
 */
function signatureProblem(e: unknown, name: string): unknown {
  if (!isUpkeepError(e) || e.code !== "E_MALFORMED") return e;
  return new UpkeepError("E_SIGNATURE", `unusable signature for ${name}: ${e.message}`, { cause: e });
}

function sameFile(path: string, d: Downloaded): boolean {
  try {
    const st = statSync(path);
    return st.ino === d.ino && st.size === d.size && st.mtimeMs === d.mtimeMs;
  } catch {
    return false;
  }
}

function topEntries(dir: string): TopEntry[] {
  return readdirSync(dir).map((name) => {
    const st = lstatSync(join(dir, name));
    return {
      name,
      kind: st.isDirectory() ? "directory" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other",
    };
  });
}

/**
 * Strips a lone top folder (renaming it to a new temp folder beside) and moves root-level executables into
 * bin/ when the release has no bin/. Returns the folder that becomes the version.
 */
function normalizeLayout(tmp: string, newTemp: () => string): string {
  let root = tmp;
  const top = releaseRootFolder(topEntries(tmp));
  if (top !== undefined) {
    // Links that climbed into the stripped folder's parent would now leave the version: refuse them.
    checkLinksWithin(join(tmp, top), []);
    root = newTemp();
    renameSync(join(tmp, top), root);
    remove(tmp);
  }
  const files = readdirSync(root).map((name) => {
    const st = lstatSync(join(root, name));
    const kind: TopEntry["kind"] = st.isDirectory()
      ? "directory"
      : st.isFile()
        ? "file"
        : st.isSymbolicLink()
          ? "symlink"
          : "other";
    return { name, kind, mode: st.mode };
  });
  const plan = binariesToMove(files);
  if (plan.createBin) {
    makeDir(join(root, "bin"));
    for (const f of plan.move) renameSync(join(root, f), join(root, "bin", f));
    fsyncDir(join(root, "bin"));
  }
  fsyncDir(root);
  return root;
}

/** Walks `dir` without following links; every symlink must satisfy the extraction rule from `dir`. */
function checkLinksWithin(dir: string, prefix: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    const rel = [...prefix, name];
    if (st.isSymbolicLink()) {
      const problem = symlinkProblem(rel, readlinkSync(path));
      if (problem) throw unsafe(rel.join("/"), `${problem} once the release's top folder is stripped`);
    } else if (st.isDirectory()) checkLinksWithin(path, rel);
  }
}

function writeMarker(stage: string, m: Parameters<typeof formatMarker>[0]): void {
  const path = join(stage, MARKER_FILE);
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    const data = new TextEncoder().encode(formatMarker(m));
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    if (fstatSync(fd).size !== data.length) throw new UpkeepError("E_IO", `short write of ${path}`);
  } finally {
    closeSync(fd);
  }
  fsyncDir(stage);
}

/**
 * Renames the staged folder to its version name. A folder of that name is replaced when it is incomplete
 * or holds other bytes (`sha256`) than the manifest's (a version re-published); one that holds these bytes
 * (another installer finished the same version meanwhile) is kept and the stage dropped.
 */
function commit(stage: string, dir: string, sha256: string): void {
  try {
    renameSync(stage, dir);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") {
      throw new UpkeepError("E_IO", `cannot rename ${stage} to ${dir}: ${code ?? String(e)}`);
    }
    if (readMarker(dir)?.sha256 === sha256) {
      remove(stage);
      return;
    }
    // Moved aside first (a `.tmp-*` name, never taken for a version), so the name is never a half-removed one.
    const aside = join(dirname(dir), `${TMP_PREFIX}${rand()}`);
    renameSync(dir, aside);
    renameSync(stage, dir);
    fsyncDir(dirname(dir));
    remove(aside);
  }
  fsyncDir(dirname(dir));
}
