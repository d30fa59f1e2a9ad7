/**
 * Fetching the signed release manifest (DESIGN §5) from the host's own base URL and verifying it with the
 * trust library before anything else is downloaded.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { checkUrl, joinUrl } from "../../install/url.ts";
import { MAX_MANIFEST_BYTES, type Manifest, manifestFileName } from "../../trust/manifest.ts";
import { MAX_SIGNATURE_FILE_BYTES, type PublicKey } from "../../trust/minisign.ts";
import type { Refusal } from "../../trust/verify_release.ts";
import { MANIFEST_DEADLINE_MS, SIGNATURE_DEADLINE_MS } from "../bounded_http.ts";
import { ioError } from "../io_error.ts";
import { verifyManifestFile } from "../verify_artifact.ts";
import { fetchCapped } from "./download.ts";

export interface InstallSource {
  /** Where artifacts are downloaded from: set on the host, never by the server. */
  baseUrl: string;
  product: string;
  /** Pinned public keys (several during a rotation). */
  trustedKeys: PublicKey[];
  /** Accept plain http to a non-loopback host. */
  insecure?: boolean;
}

export interface VerifiedManifest {
  manifest: Manifest;
  /** The manifest's serial: persist it and pass it back as `lastSerial` next time. */
  serial: number;
  /** Key id (hex) of the trusted key that signed it. */
  keyId: string;
  trustedComment: string;
  /** Where the verified copy was saved (`<workDir>/<product>-releases.json`, with its `.minisig`). */
  path: string;
}

/** A refusal from the trust library as an error; a signature by an untrusted key is E_SIGNATURE here. */
export function refusalError(r: Refusal, what: string): UpkeepError {
  if (r.code === "E_KEY") return new UpkeepError("E_SIGNATURE", `${what}: ${r.reason}`);
  return new UpkeepError(r.code, `${what}: ${r.reason}`);
}

/**
 * Fetches a signature (at most 16 KiB, in 10 s at most); a missing one means the file is unsigned
 * (E_SIGNATURE).
 */
export async function fetchSignature(
  url: string,
  opts: { insecure: boolean; signal?: AbortSignal; idleMs?: number },
): Promise<Uint8Array> {
  try {
    return await fetchCapped(url, MAX_SIGNATURE_FILE_BYTES, "signature", {
      ...opts,
      totalMs: SIGNATURE_DEADLINE_MS,
    });
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_NOT_FOUND") {
      throw new UpkeepError("E_SIGNATURE", `${url} is missing: the file is not signed`);
    }
    throw e;
  }
}

/**
 * GETs a manifest at `url` (at most 8 MiB, in 30 s at most) and its `.minisig` together, unverified. One
 * failing stops the other (a stalled signature does not leave the manifest download running).
 */
export async function fetchManifestAndSignature(
  url: string,
  opts: { insecure: boolean; signal?: AbortSignal; idleMs?: number },
): Promise<[manifest: Uint8Array, signature: Uint8Array]> {
  const either = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, either.signal]) : either.signal;
  const get = { ...opts, signal };
  const stopBoth = (e: unknown): never => {
    either.abort();
    throw e;
  };
  return await Promise.all([
    fetchCapped(url, MAX_MANIFEST_BYTES, "manifest", { ...get, totalMs: MANIFEST_DEADLINE_MS }).catch(
      stopBoth,
    ),
    fetchSignature(`${url}.minisig`, get).catch(stopBoth),
  ]);
}

/**
 * GETs `<baseUrl>/<product>-releases.json` and its `.minisig` (size-capped: 8 MiB and 16 KiB; deadlines:
 * 30 s and 10 s), verifies the signature by one
 * of `trustedKeys`, the product, the expiry and that the serial is not below `lastSerial` (E_ROLLBACK),
 * saves the verified pair in `workDir` and returns the manifest.
 */
export async function fetchVerifiedManifest(
  src: InstallSource,
  opts: { now: Date; lastSerial?: number; workDir: string; signal?: AbortSignal; idleTimeoutMs?: number },
): Promise<VerifiedManifest> {
  const insecure = src.insecure ?? false;
  checkUrl(src.baseUrl, insecure);
  const name = manifestFileName(src.product);
  const url = joinUrl(src.baseUrl, name);
  const [bytes, signature] = await fetchManifestAndSignature(url, {
    insecure,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.idleTimeoutMs === undefined ? {} : { idleMs: opts.idleTimeoutMs }),
  });
  try {
    mkdirSync(opts.workDir, { recursive: true });
  } catch (e) {
    throw ioError("create", opts.workDir, e);
  }
  const tmp = join(opts.workDir, `.${name}.tmp-${randomBytes(6).toString("hex")}`);
  const final = join(opts.workDir, name);
  try {
    writeFileSync(tmp, bytes, { mode: 0o644 });
    writeFileSync(`${tmp}.minisig`, signature, { mode: 0o644 });
    const v = await verifyManifestFile({
      path: tmp,
      signaturePath: `${tmp}.minisig`,
      trustedKeys: src.trustedKeys,
      product: src.product,
      now: opts.now,
      ...(opts.lastSerial === undefined ? {} : { lastSerial: opts.lastSerial }),
    });
    if (!v.ok) throw refusalError(v, `release manifest ${url}`);
    renameSync(`${tmp}.minisig`, `${final}.minisig`);
    renameSync(tmp, final);
    return {
      manifest: v.manifest,
      serial: v.manifest.serial,
      keyId: v.keyId,
      trustedComment: v.trustedComment,
      path: final,
    };
  } catch (e) {
    throw ioError("save the manifest in", opts.workDir, e);
  } finally {
    for (const p of [tmp, `${tmp}.minisig`]) {
      try {
        unlinkSync(p);
      } catch {
        // renamed or never written
      }
    }
  }
}
