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
 *
 * Delta downloads (./delta.ts): when the manifest lists a patch to the artifact from an installed version
 * (active first), the patch replaces the download ("mid-download") and the artifact is rebuilt from the
 * artifact that version's install kept (`.upkeep-artifact` in its folder, a hard link of the verified
 * `.part`), checked against the manifest's size and sha256 before it becomes the `.part`; from "downloaded"
 * on, nothing differs. Any failure there falls back to the full download in the same run.
 */
import { constants, copyFileSync, existsSync, linkSync, lstatSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import type { ExtractLimits } from "../../install/extract_policy.ts";
import { type Platform, partFileName, versionDirName } from "../../install/layout.ts";
import { checkUrl, joinUrl } from "../../install/url.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import { findArtifact, findRelease, type ManifestArtifact } from "../../trust/manifest.ts";
import { verifyArtifact } from "../../trust/verify_release.ts";
import { formatVersion, tryParseVersion } from "../../version/mod.ts";
import { faultPoint } from "../fault.ts";
import { digestFile, fileSize } from "../hash.ts";
import { ioError } from "../io_error.ts";
import { type DownloadFacts, KEPT_ARTIFACT, removeDeltaLeftovers, tryDelta } from "./delta.ts";
import { readMarker, sweepLeftovers } from "./dirs.ts";
import { type Downloaded, downloadArtifact, sameFile } from "./download.ts";
import { cancelled, DEFAULT_EXTRACT_LIMITS, extractTarGz, makeDir } from "./extract.ts";
import { fetchSignature, type InstallSource, refusalError, type VerifiedManifest } from "./manifest.ts";
import { checkSpace, partBytes } from "./space.ts";
import { commit, normalizeLayout, remove, tempName, writeMarker } from "./stage.ts";

export { SPACE_MARGIN, UNPACKED_FACTOR } from "./space.ts";

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
  /** Says, once, why a listed patch was not used (the full artifact is downloaded instead). */
  log?: (line: string) => void;
  /** Try a listed patch before the full download (default true). */
  delta?: boolean;
}

export interface InstallResult {
  dir: string;
  /** The version's complete folder was there already: nothing was fetched. */
  reused: boolean;
  /** What was fetched (absent when reused). */
  download?: DownloadFacts;
}

function step(name: InstallStep, opts: InstallOptions): void {
  faultPoint(`install:${name}`);
  opts.onStep?.(name);
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
export async function installVersion(opts: InstallOptions): Promise<InstallResult> {
  const t = target(opts);
  try {
    sweepLeftovers(opts.versionsDir);
  } catch {
    // An unreadable folder: the install itself says what is wrong with it.
  }
  const marker = readMarker(t.dir);
  if (marker && marker.sha256 === t.artifact.sha256 && marker.artifact === t.name) {
    // A kill between the rename and the .part removal leaves the download behind: it is of no more use.
    if (existsSync(t.part)) remove(t.part);
    return { dir: t.dir, reused: true };
  }
  if (marker && opts.inUse?.includes(t.dirName)) {
    throw new UpkeepError(
      "E_CONFLICT",
      `${t.dir} holds ${marker.artifact} with sha256 ${marker.sha256}, but the manifest lists ${t.name} with sha256 ${t.artifact.sha256} (re-published with other bytes); it is in use, so it is not replaced`,
      { hint: `switch away from ${t.version} first (or ask the release engineer why ${t.version} changed)` },
    );
  }
  try {
    makeDir(opts.versionsDir, true);
  } catch (e) {
    throw ioError("create", opts.versionsDir, e);
  }
  step("start", opts);
  checkSpace(opts.versionsDir, t);
  step("space-checked", opts);
  const { downloaded, download } = await fetchArtifact(opts, t);
  step("downloaded", opts);
  await unpack(opts, t, downloaded);
  step("done", opts);
  return { dir: t.dir, reused: false, download };
}

/** The artifact into its `.part`: rebuilt from a listed patch when one applies here, else downloaded. */
async function fetchArtifact(
  opts: InstallOptions,
  t: Target,
): Promise<{ downloaded: Downloaded; download: DownloadFacts }> {
  const had = partBytes(t.part, t.artifact.size);
  // A complete `.part` left by a kill after the download (or a rebuild) needs no patch.
  if (opts.delta !== false && had < t.artifact.size && t.artifact.patches?.length) {
    const delta = await tryDelta({
      versionsDir: opts.versionsDir,
      baseUrl: opts.source.baseUrl,
      insecure: opts.source.insecure ?? false,
      artifact: t.artifact,
      name: t.name,
      part: t.part,
      ...(opts.inUse ? { prefer: opts.inUse } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.idleTimeoutMs === undefined ? {} : { idleMs: opts.idleTimeoutMs }),
      ...(opts.log ? { log: opts.log } : {}),
    });
    if (delta) return { downloaded: delta.downloaded, download: delta.facts };
  }
  removeDeltaLeftovers(opts.versionsDir, t.name, t.artifact.patches);
  const downloaded = await downloadArtifact({
    url: t.url,
    path: t.part,
    size: t.artifact.size,
    insecure: opts.source.insecure ?? false,
    signal: opts.signal,
    onProgress: opts.onProgress,
    ...(opts.idleTimeoutMs === undefined ? {} : { idleMs: opts.idleTimeoutMs }),
    onFirstChunk: () => step("mid-download", opts),
  });
  const resumed = downloaded.requests.length === 0 ? downloaded.size : had;
  return {
    downloaded,
    download: { kind: "full", bytes: Math.max(0, downloaded.size - resumed), full_bytes: t.artifact.size },
  };
}

/**
 * The verified artifact kept in the stage (a hard link of the `.part`, a copy across filesystems): the base
 * a later patch is applied to. Not kept (no delta from this version later) when that fails or the release
 * itself has a file of that name.
 */
function keepArtifact(part: string, stage: string): void {
  const kept = join(stage, KEPT_ARTIFACT);
  try {
    lstatSync(kept);
    return; // the release's own file (or link) of that name: left alone
  } catch {
    // not there: kept below
  }
  try {
    linkSync(part, kept);
  } catch {
    try {
      copyFileSync(part, kept, constants.COPYFILE_EXCL);
    } catch {
      // no base kept: a later update downloads the full artifact
    }
  }
}

/** What installVersion installs: the version and its artifact as the manifest lists them, and where. */
interface Target {
  version: string;
  /** The artifact's file name (the host's template) and URL. */
  name: string;
  url: string;
  artifact: ManifestArtifact;
  dirName: string;
  dir: string;
  /** The resumable download, `.download-<name>.part`. */
  part: string;
}

/** The manifest must list the version for this platform (E_NOT_IN_MANIFEST, E_BELOW_FLOOR...). */
function target(opts: InstallOptions): Target {
  const { source, platform, versionsDir } = opts;
  const manifest = opts.manifest.manifest;
  checkUrl(source.baseUrl, source.insecure ?? false);
  if (manifest.product !== source.product) {
    throw new UpkeepError("E_MALFORMED", `the manifest is for ${manifest.product}, not ${source.product}`);
  }
  const parsed = tryParseVersion(opts.version);
  if (!parsed) throw new UpkeepError("E_BAD_VERSION", `invalid version "${opts.version}"`);
  const version = formatVersion(parsed);
  findRelease(manifest, version);
  const name = formatArtifactName({ product: source.product, version, ...platform });
  const { artifact } = findArtifact(manifest, name);
  const dirName = versionDirName(version, platform);
  return {
    version,
    name,
    url: joinUrl(source.baseUrl, name),
    artifact,
    dirName,
    dir: join(versionsDir, dirName),
    part: join(versionsDir, partFileName(name)),
  };
}

/**
 * From the downloaded `.part` to the version folder: verify, extract into a temp folder, normalize, marker,
 * rename. Every temp folder this run makes is removed whatever happens (the stage is renamed into place at
 * the commit); the `.part` too when its bytes are of no more use.
 */
async function unpack(opts: InstallOptions, t: Target, downloaded: Downloaded): Promise<void> {
  const temps: string[] = [];
  const newTemp = () => {
    const tmp = tempName(opts.versionsDir);
    temps.push(tmp);
    return tmp;
  };
  let removePart = false;
  try {
    const refused = await verify(opts, t, downloaded);
    if (refused) {
      removePart = true; // bad bytes: resuming them would never verify
      throw refused;
    }
    step("verified", opts);
    if (opts.signal?.aborted) throw cancelled();
    const tmp = newTemp();
    let first = true;
    const onEntry = () => {
      if (first) step("mid-extract", opts);
      first = false;
    };
    const unpackedSize = t.artifact.unpacked_size;
    await extractTarGz(t.part, tmp, opts.limits ?? DEFAULT_EXTRACT_LIMITS, {
      signal: opts.signal,
      onEntry,
      ...(unpackedSize === undefined ? {} : { unpackedSize }),
    });
    step("extracted", opts);
    const stage = normalizeLayout(tmp, newTemp);
    step("layout", opts);
    keepArtifact(t.part, stage);
    const installedAt = new Date().toISOString();
    writeMarker(stage, {
      version: t.version,
      artifact: t.name,
      sha256: t.artifact.sha256,
      installed_at: installedAt,
    });
    step("marker", opts);
    commit(stage, t.dir, t.artifact.sha256);
    step("renamed", opts);
  } catch (e) {
    // A release the extractor or the layout refuses will be refused again: its bytes are of no more use.
    if (refusesRelease(e) || (isUpkeepError(e) && e.code === "E_CANCELLED")) removePart = true;
    for (const tmp of temps) remove(tmp);
    if (removePart) remove(t.part);
    throw e;
  }
  for (const tmp of temps) remove(tmp); // the stage is renamed away; an emptied top folder may remain
  try {
    unlinkSync(t.part);
  } catch {
    // already gone
  }
}

/**
 * The signature fetched, then the trust library decides; the digests taken during the download stand in for
 * a second read of the file, as long as it is still the file they were taken of. Returns the refusal of bad
 * bytes (undefined: verified); a signature that cannot be had throws.
 */
async function verify(opts: InstallOptions, t: Target, downloaded: Downloaded): Promise<unknown> {
  let signature: string;
  try {
    const bytes = await fetchSignature(`${t.url}.minisig`, {
      insecure: opts.source.insecure ?? false,
      signal: opts.signal,
      idleMs: opts.idleTimeoutMs,
    });
    signature = new TextDecoder().decode(bytes);
  } catch (e) {
    throw signatureProblem(e, t.name);
  }
  step("signature", opts);
  const verdict = await verifyArtifact(
    {
      path: t.part,
      signature,
      trustedKeys: opts.source.trustedKeys,
      manifest: opts.manifest.manifest,
      expectedName: t.name,
      now: new Date(),
    },
    { size: fileSize, digest: async (p) => (sameFile(p, downloaded) ? downloaded : digestFile(p)) },
  );
  return verdict.ok ? undefined : signatureProblem(refusalError(verdict, t.name), t.name);
}

/**
 * Anything wrong with the artifact's signature file (missing, oversized, not a minisign signature) is
 * E_SIGNATURE: a mirror may serve a broken one for a while; E_MALFORMED stays a verdict on verified bytes.
 */
function signatureProblem(e: unknown, name: string): unknown {
  if (!isUpkeepError(e) || e.code !== "E_MALFORMED") return e;
  return new UpkeepError("E_SIGNATURE", `unusable signature for ${name}: ${e.message}`, { cause: e });
}
