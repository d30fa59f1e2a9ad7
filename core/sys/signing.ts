/** Signing and verifying files on disk (streaming BLAKE2b-512), minisign-compatible. */
import { basename } from "node:path";
import { UpkeepError } from "../errors.ts";
import {
  checkEnvelope,
  checkMessage,
  createSignature,
  defaultTrustedComment,
  formatSignature,
  keyIdHex,
  MAX_SIGNATURE_FILE_BYTES,
  type PublicKey,
  parseSignature,
  publicKeyOfSecret,
  type SecretKey,
  type Signature,
} from "../trust/minisign.ts";
import { type Refusal, refusal } from "../trust/verify_release.ts";
import { readCapped, readTextCapped } from "./files.ts";
import { hashFile } from "./hash.ts";

export interface SignOptions {
  /** Replaces minisign's default `timestamp:<unix>\tfile:<basename>\thashed`. */
  trustedComment?: string;
  now?: Date;
}

/** Signs `path` (prehashed, "ED") and returns the `.minisig` text; double-checks it before returning. */
export async function signFile(path: string, sk: SecretKey, opts: SignOptions = {}): Promise<string> {
  const { blake2b512 } = await hashFile(path, ["blake2b512"]);
  if (!blake2b512) throw new UpkeepError("E_INTERNAL", "no BLAKE2b digest");
  const now = opts.now ?? new Date();
  const comment = opts.trustedComment ?? defaultTrustedComment(basename(path), now.getTime() / 1000);
  const sig = await createSignature(sk, blake2b512, comment);
  const pk = publicKeyOfSecret(sk);
  const envelope = await checkEnvelope(sig, [pk]);
  await checkMessage(sig, envelope.key, blake2b512);
  return formatSignature(sig);
}

export interface VerifyFileOptions {
  /** The name the trusted comment must carry; default: the file's basename. */
  expectedName?: string;
  allowLegacy?: boolean;
}

export type FileVerdict =
  | { ok: true; keyId: string; trustedComment: string; algorithm: Signature["algorithm"] }
  | (Refusal & { keyId?: string });

/** Legacy signatures sign the whole file, so it is read into memory: minisign caps those at 1 GiB. */
const MAX_LEGACY_FILE = 1 << 30;

/**
 * Verifies `path` against a `.minisig` text and trusted keys. Answers ok or a coded refusal: E_MALFORMED
 * (unparsable signature), E_KEY (signed by an untrusted key), E_SIGNATURE (bad signature, another file's
 * signature, legacy not allowed), E_IO (file unreadable).
 */
export async function verifyFileSignature(
  path: string,
  signatureText: string,
  trusted: readonly PublicKey[],
  opts: VerifyFileOptions = {},
): Promise<FileVerdict> {
  let keyId: string | undefined;
  try {
    const sig = parseSignature(signatureText);
    keyId = keyIdHex(sig.keyId);
    const envelope = await checkEnvelope(sig, trusted, {
      expectedFile: opts.expectedName ?? basename(path),
      allowLegacy: opts.allowLegacy,
    });
    const message =
      sig.algorithm === "ED"
        ? (await hashFile(path, ["blake2b512"])).blake2b512
        : await readCapped(path, MAX_LEGACY_FILE, "file (legacy signature)");
    if (!message) throw new UpkeepError("E_INTERNAL", "no message to verify");
    await checkMessage(sig, envelope.key, message);
    return {
      ok: true,
      keyId: envelope.keyId,
      trustedComment: envelope.trustedComment,
      algorithm: sig.algorithm,
    };
  } catch (e) {
    return { ...refusal(e), ...(keyId === undefined ? {} : { keyId }) };
  }
}

/** Reads a `.minisig` file (capped; an oversized one is E_MALFORMED). */
export async function readSignatureFile(path: string): Promise<string> {
  return readTextCapped(path, MAX_SIGNATURE_FILE_BYTES, "signature");
}
