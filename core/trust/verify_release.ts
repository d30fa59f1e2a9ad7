/**
 * The decisions a host makes before installing anything, pure, with file reading injected. core/sys wires
 * the real I/O (`core/sys/verify_artifact.ts`); agent, tools and serve call those.
 *
 * 1. `verifyManifest`: the manifest's `.minisig` by a trusted key, naming `{product}-releases.json`; valid
 *    JSON for that product; not expired; serial not below the last one seen.
 * 2. `verifyArtifact`: the artifact named by the server is listed in that manifest, not below its floor;
 *    its `.minisig` is by a trusted key, names that file, and verifies; size and sha256 match the manifest.
 *
 * Both answer `{ ok: true, ... }` or a coded refusal `{ ok: false, code, reason }`; they throw only on bugs.
 */
import { type ErrorCode, isUpkeepError, UpkeepError } from "../errors.ts";
import { decodeUtf8 } from "./encoding.ts";
import {
  checkFreshness,
  findArtifact,
  MAX_MANIFEST_BYTES,
  type Manifest,
  type ManifestArtifact,
  type ManifestRelease,
  manifestFileName,
  parseManifest,
} from "./manifest.ts";
import { checkEnvelope, checkMessage, type PublicKey, parseSignature, verifyBytes } from "./minisign.ts";

export interface Refusal {
  ok: false;
  code: ErrorCode;
  reason: string;
}

/** Turns a coded error into a refusal; anything else is a bug and propagates. */
export function refusal(e: unknown): Refusal {
  if (isUpkeepError(e)) return { ok: false, code: e.code, reason: e.message };
  throw e;
}

export interface VerifyManifestInput {
  /** The manifest file's bytes. */
  bytes: Uint8Array;
  /** Its `.minisig`. */
  signature: string;
  trustedKeys: readonly PublicKey[];
  /** The product this host runs; a manifest for another product is refused. */
  product: string;
  now: Date;
  /** The highest serial accepted before (persisted by the caller); undefined on first contact. */
  lastSerial?: number;
}

export type ManifestVerdict =
  | { ok: true; manifest: Manifest; keyId: string; trustedComment: string }
  | Refusal;

export async function verifyManifest(input: VerifyManifestInput): Promise<ManifestVerdict> {
  try {
    if (input.bytes.length > MAX_MANIFEST_BYTES) {
      throw new UpkeepError("E_MALFORMED", `manifest: larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    const envelope = await verifyBytes(input.bytes, input.signature, input.trustedKeys, {
      expectedFile: manifestFileName(input.product),
    });
    const manifest = parseManifest(decodeUtf8(input.bytes, "manifest"), { product: input.product });
    checkFreshness(manifest, { now: input.now, lastSerial: input.lastSerial });
    return { ok: true, manifest, keyId: envelope.keyId, trustedComment: envelope.trustedComment };
  } catch (e) {
    return refusal(e);
  }
}

/** What one streaming pass over a file yields. */
export interface FileDigests {
  size: number;
  /** Lower-case hex. */
  sha256: string;
  blake2b512: Uint8Array;
}

/** File access for verifyArtifact. */
export interface ArtifactFiles {
  /** The file's size, without reading it. */
  size(path: string): Promise<number>;
  /** Size, SHA-256 and BLAKE2b-512 in one streaming pass. */
  digest(path: string): Promise<FileDigests>;
}

export interface VerifyArtifactInput {
  /** Where the downloaded artifact is. */
  path: string;
  /** The artifact's `.minisig` text. */
  signature: string;
  trustedKeys: readonly PublicKey[];
  /** A manifest that passed verifyManifest. */
  manifest: Manifest;
  /** The artifact's file name (as the server named it and the host built the URL from). */
  expectedName: string;
  now: Date;
}

export type ArtifactVerdict =
  | {
      ok: true;
      release: ManifestRelease;
      artifact: ManifestArtifact;
      keyId: string;
      trustedComment: string;
    }
  | Refusal;

/**
 * Checks, cheapest first: listed in the manifest and not below its floor, manifest not expired, signature
 * well-formed, by a trusted key, naming this file (all before reading the file), size, then one pass for
 * the signature and sha256. Legacy signatures are never accepted here.
 */
export async function verifyArtifact(
  input: VerifyArtifactInput,
  files: ArtifactFiles,
): Promise<ArtifactVerdict> {
  try {
    const { release, artifact } = findArtifact(input.manifest, input.expectedName);
    checkFreshness(input.manifest, { now: input.now });
    const sig = parseSignature(input.signature);
    const envelope = await checkEnvelope(sig, input.trustedKeys, {
      expectedFile: input.expectedName,
      expectedVersion: release.version,
    });
    const size = await files.size(input.path);
    if (size !== artifact.size) {
      throw new UpkeepError(
        "E_SIZE",
        `${input.expectedName} is ${size} bytes; the manifest says ${artifact.size}`,
      );
    }
    const d = await files.digest(input.path);
    if (d.size !== artifact.size) {
      throw new UpkeepError(
        "E_SIZE",
        `${input.expectedName} is ${d.size} bytes; the manifest says ${artifact.size}`,
      );
    }
    await checkMessage(sig, envelope.key, d.blake2b512);
    if (d.sha256 !== artifact.sha256) {
      throw new UpkeepError(
        "E_CHECKSUM",
        `${input.expectedName}: sha256 ${d.sha256} is not the manifest's ${artifact.sha256}`,
      );
    }
    return { ok: true, release, artifact, keyId: envelope.keyId, trustedComment: envelope.trustedComment };
  } catch (e) {
    return refusal(e);
  }
}
