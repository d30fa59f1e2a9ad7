/**
 * Fetching a verified upkeep executable (DESIGN §9): the same trust path as product releases, for upkeep's
 * own releases. Used by the agent's self-update and by `upkeep self-update` on a workstation.
 *
 * From `baseUrl` (set on the host, never by the server): `upkeep-releases.json` + `.minisig` (a product
 * manifest for product `upkeep`, signed by a key of `selfTrustKeys`), then `upkeep-v<version>-<os>-<arch>`
 * + `.minisig`. Checked, in order (each refusal with its code, nothing written at `dest`):
 *   manifest    signed by a trusted key, for `upkeep`, not expired (E_SIGNATURE, E_MALFORMED, E_EXPIRED),
 *               serial not below the last one recorded in `state` (E_ROLLBACK)
 *   listed      the version is in it (E_NOT_IN_MANIFEST) and not below its floor (E_BELOW_FLOOR), with an
 *               executable for this os/arch
 *   download    resumable (`.<name>.part` beside `dest`, kept on a network error for the next try),
 *               capped at the manifest's size (E_SIZE), given up at a deadline sized to it (E_NETWORK)
 *   verified    the executable's signature by a trusted key naming it (E_SIGNATURE), size and sha256 as the
 *               manifest says (E_SIZE, E_CHECKSUM)
 *   written     the `.part` made 0755, flushed and renamed to `dest` (atomic: a reader sees no file or the
 *               whole verified one)
 * Fault points `updater-fetch:<step>` (manifest, mid-download, downloaded, verified, written) for the
 * crash tests.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { checkUrl, joinUrl } from "../../install/url.ts";
import { formatSelfArtifactName, SELF_PRODUCT } from "../../trust/artifact_name.ts";
import {
  findArtifact,
  findRelease,
  type Manifest,
  type ManifestArtifact,
  manifestFileName,
} from "../../trust/manifest.ts";
import type { PublicKey } from "../../trust/minisign.ts";
import { verifyArtifact, verifyManifest } from "../../trust/verify_release.ts";
import { formatVersion, tryParseVersion } from "../../version/mod.ts";
import { faultPoint } from "../fault.ts";
import { digestFile, fileSize, hashFile } from "../hash.ts";
import { type DownloadFacts, tryDelta } from "../install/delta.ts";
import { type Downloaded, downloadArtifact, sameFile } from "../install/download.ts";
import { fsyncDir } from "../install/extract.ts";
import { fetchManifestAndSignature, fetchSignature, refusalError } from "../install/manifest.ts";
import { ioError } from "../io_error.ts";
import { UPKEEP_VERSION } from "./build_info.ts";

/** What a host remembers of upkeep's release manifests between runs. */
export interface SelfTrustState {
  /** The highest `upkeep-releases.json` serial accepted before (undefined: none yet). */
  lastSerial?: number;
}

export const UPDATER_FETCH_STEPS = ["manifest", "mid-download", "downloaded", "verified", "written"] as const;
export type UpdaterFetchStep = (typeof UPDATER_FETCH_STEPS)[number];

export interface FetchUpdaterOptions {
  /** Where upkeep's releases are downloaded from (the product's base URL: serve's /artifacts, a CDN). */
  baseUrl: string;
  /** The version to fetch (a leading `v` is accepted). */
  version: string;
  /** As the artifact names spell them: linux/darwin, amd64/arm64 (`currentPlatform()`). */
  os: string;
  arch: string;
  /** `selfTrustKeys(...)`: never the product's keys. */
  keys: readonly PublicKey[];
  /** Where the verified executable is written (mode 0755); its folder is created if missing. */
  dest: string;
  /** The last serial accepted: a manifest with a lower one is refused. Persist the answer's `serial`. */
  state: SelfTrustState;
  /** Accept plain http to a non-loopback host. */
  insecure?: boolean;
  signal?: AbortSignal;
  /** Give a request up after this long without a byte (default 60 s). */
  idleTimeoutMs?: number;
  now?: Date;
  /** Called as each step is reached (after its fault point), for logs. */
  onStep?: (step: UpdaterFetchStep) => void;
  onProgress?: (p: { received: number; total: number }) => void;
  /**
   * The executable a listed patch may start from (delta downloads): default this running executable at its
   * built-in version; false: always the full download. Used only when its bytes are the patch's base.
   */
  deltaBase?: { path: string; version: string } | false;
  /** Says, once, why a listed patch was not used. */
  log?: (line: string) => void;
}

export interface FetchedUpdater {
  /** `dest`. */
  path: string;
  /** Canonical. */
  version: string;
  /** The artifact's name, `upkeep-v<version>-<os>-<arch>`. */
  name: string;
  size: number;
  sha256: string;
  /** The manifest's serial: record it (`state.lastSerial`) for the next fetch. */
  serial: number;
  /** Key id (hex) of the key that signed the manifest. */
  keyId: string;
  /** `dest` already held these verified bytes: nothing was downloaded. */
  reused: boolean;
  /** What was fetched: a patch from the running executable (`delta`) or the whole one (`full`). */
  download?: DownloadFacts;
}

function step(name: UpdaterFetchStep, o: FetchUpdaterOptions): void {
  faultPoint(`updater-fetch:${name}`);
  o.onStep?.(name);
}

/**
 * Fetches upkeep `version` for `os`/`arch` from `baseUrl`, verified, to `dest` (see the module comment for
 * the checks and their codes). Nothing is written at `dest` unless every check passed.
 */
export async function fetchVerifiedUpdater(o: FetchUpdaterOptions): Promise<FetchedUpdater> {
  const parsed = tryParseVersion(o.version);
  if (!parsed) throw new UpkeepError("E_BAD_VERSION", `invalid upkeep version "${o.version}"`);
  const version = formatVersion(parsed);
  if (o.keys.length === 0) {
    throw new UpkeepError("E_KEY", "no key is trusted for upkeep's own releases", {
      hint: "this build has no release-keys/; add an operator key (agent enable --self-trust-key PUB)",
    });
  }
  const insecure = o.insecure ?? false;
  checkUrl(o.baseUrl, insecure);
  const now = o.now ?? new Date();
  const verified = await fetchSelfManifest(o, now);
  step("manifest", o);
  const { name, artifact } = listed(verified.manifest, version, o);
  const facts = {
    path: o.dest,
    version,
    name,
    size: artifact.size,
    sha256: artifact.sha256,
    serial: verified.manifest.serial,
    keyId: verified.keyId,
  };
  if (await holds(o.dest, artifact)) return { ...facts, reused: true };
  const dir = dirname(o.dest);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw ioError("create", dir, e);
  }
  const part = join(dir, `.${name}.part`);
  const url = joinUrl(o.baseUrl, name);
  const delta = await fromPatch(o, { dir, name, part, artifact });
  const downloaded =
    delta?.downloaded ??
    (await downloadArtifact({
      url,
      path: part,
      size: artifact.size,
      insecure,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.idleTimeoutMs === undefined ? {} : { idleMs: o.idleTimeoutMs }),
      onFirstChunk: () => step("mid-download", o),
    }));
  step("downloaded", o);
  await verifyDownload(o, { url, name, part, manifest: verified.manifest, downloaded, now });
  step("verified", o);
  install(part, o.dest);
  step("written", o);
  const download: DownloadFacts = delta?.facts ?? {
    kind: "full",
    bytes: artifact.size,
    full_bytes: artifact.size,
  };
  return { ...facts, reused: false, download };
}

/**
 * The executable rebuilt into `part` from a patch the manifest lists from the running one (its sha256 the
 * patch's base), or undefined: the full download (install/delta.ts says why, once).
 */
async function fromPatch(
  o: FetchUpdaterOptions,
  t: { dir: string; name: string; part: string; artifact: ManifestArtifact },
): Promise<Awaited<ReturnType<typeof tryDelta>>> {
  const base = o.deltaBase === undefined ? { path: process.execPath, version: UPKEEP_VERSION } : o.deltaBase;
  if (base === false || !t.artifact.patches?.some((p) => p.from === base.version)) return undefined;
  const sha256 = (await hashFile(base.path, ["sha256"]).catch(() => undefined))?.sha256;
  if (!sha256) return undefined;
  return tryDelta({
    versionsDir: t.dir,
    bases: [{ version: base.version, sha256, file: base.path }],
    baseUrl: o.baseUrl,
    insecure: o.insecure ?? false,
    artifact: t.artifact,
    name: t.name,
    part: t.part,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.idleTimeoutMs === undefined ? {} : { idleMs: o.idleTimeoutMs }),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** `upkeep-releases.json` and its signature, verified (nothing is saved: the caller keeps the serial). */
async function fetchSelfManifest(
  o: FetchUpdaterOptions,
  now: Date,
): Promise<{ manifest: Manifest; keyId: string }> {
  const insecure = o.insecure ?? false;
  const url = joinUrl(o.baseUrl, manifestFileName(SELF_PRODUCT));
  const [bytes, signature] = await fetchManifestAndSignature(url, {
    insecure,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.idleTimeoutMs === undefined ? {} : { idleMs: o.idleTimeoutMs }),
  });
  const v = await verifyManifest({
    bytes,
    signature: new TextDecoder().decode(signature),
    trustedKeys: o.keys,
    product: SELF_PRODUCT,
    now,
    ...(o.state.lastSerial === undefined ? {} : { lastSerial: o.state.lastSerial }),
  });
  if (!v.ok) throw refusalError(v, `upkeep release manifest ${url}`);
  return { manifest: v.manifest, keyId: v.keyId };
}

/** The version must be listed, not below the floor, with an executable for this platform. */
function listed(
  m: Manifest,
  version: string,
  o: FetchUpdaterOptions,
): { name: string; artifact: ManifestArtifact } {
  findRelease(m, version);
  const name = formatSelfArtifactName(version, o.os, o.arch);
  try {
    return { name, artifact: findArtifact(m, name).artifact };
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_NOT_IN_MANIFEST") {
      throw new UpkeepError(
        "E_NOT_IN_MANIFEST",
        `upkeep ${version} is in the upkeep release manifest, but not for ${o.os}/${o.arch} (${name})`,
      );
    }
    throw e;
  }
}

/** `dest` is already a regular file of the manifest's size and sha256 (a fetch that finished before). */
async function holds(dest: string, a: ManifestArtifact): Promise<boolean> {
  try {
    const st = lstatSync(dest);
    if (!st.isFile() || st.size !== a.size) return false;
    if ((await digestFile(dest)).sha256 !== a.sha256) return false;
    if ((st.mode & 0o777) !== 0o755) chmodSync(dest, 0o755);
    return true;
  } catch {
    return false;
  }
}

/**
 * The executable's signature and digests (taken during the download, while it is still the same file).
 * Refused bytes are removed: resuming them would never verify.
 */
async function verifyDownload(
  o: FetchUpdaterOptions,
  d: { url: string; name: string; part: string; manifest: Manifest; downloaded: Downloaded; now: Date },
): Promise<void> {
  const refuse = (e: unknown): never => {
    remove(d.part);
    throw e;
  };
  let signature: string;
  try {
    const bytes = await fetchSignature(`${d.url}.minisig`, {
      insecure: o.insecure ?? false,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.idleTimeoutMs === undefined ? {} : { idleMs: o.idleTimeoutMs }),
    });
    signature = new TextDecoder().decode(bytes);
  } catch (e) {
    // A missing signature is E_SIGNATURE (unsigned): the bytes are of no use. A network error keeps them.
    if (isUpkeepError(e) && (e.code === "E_SIGNATURE" || e.code === "E_MALFORMED"))
      refuse(asSignature(e, d.name));
    throw e;
  }
  const verdict = await verifyArtifact(
    {
      path: d.part,
      signature,
      trustedKeys: o.keys,
      manifest: d.manifest,
      expectedName: d.name,
      now: d.now,
    },
    {
      size: fileSize,
      digest: async (p) => (sameFile(p, d.downloaded) ? d.downloaded : digestFile(p)),
    },
  );
  if (!verdict.ok) refuse(asSignature(refusalError(verdict, d.name), d.name));
}

/** Anything wrong with the signature file itself is E_SIGNATURE (E_MALFORMED is for verified bytes). */
function asSignature(e: unknown, name: string): unknown {
  if (!isUpkeepError(e) || e.code !== "E_MALFORMED") return e;
  return new UpkeepError("E_SIGNATURE", `unusable signature for ${name}: ${e.message}`, { cause: e });
}

/** The verified `.part` made executable, flushed, and renamed to `dest`. */
function install(part: string, dest: string): void {
  try {
    chmodSync(part, 0o755);
    const fd = openSync(part, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(part, dest);
  } catch (e) {
    throw ioError("write", dest, e);
  }
  fsyncDir(dirname(dest));
}

function remove(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
