/** minisign signatures (`.minisig`): parsing, formatting, trusted comments, signing and checking. Pure. */
import { UpkeepError, UsageError } from "../errors.ts";
import {
  ALG_ED,
  ALG_PREHASHED,
  keyIdHex,
  lines,
  MAX_SIGNATURE_FILE_BYTES,
  MAX_TRUSTED_COMMENT_BYTES,
  MAX_UNTRUSTED_COMMENT_LINE_BYTES,
  malformed,
  type PublicKey,
  type SecretKey,
  SIGNATURE_BYTES,
  sameBytes,
  TRUSTED_PREFIX,
  UNTRUSTED_PREFIX,
} from "./_minisign.ts";
import { blake2b } from "./blake2b.ts";
import * as ed from "./ed25519.ts";
import { concat, decodeBase64, encodeBase64, encodeUtf8, equalBytes } from "./encoding.ts";

export type SignatureAlgorithm = "ED" | "Ed";

export interface Signature {
  /** "ED": prehashed with BLAKE2b-512 (the default); "Ed": legacy, signs the whole file. */
  algorithm: SignatureAlgorithm;
  keyId: Uint8Array;
  signature: Uint8Array;
  untrustedComment: string;
  trustedComment: string;
  globalSignature: Uint8Array;
}

/** Parses a `.minisig` file; refuses oversized lines, bad base64, unknown algorithms and extra content. */
export function parseSignature(text: string): Signature {
  const ls = lines(text, "signature", MAX_SIGNATURE_FILE_BYTES);
  if (ls.length < 4) throw malformed("signature: truncated (expected 4 lines)");
  if (ls.length > 4) throw malformed("signature: unexpected content after the 4th line");
  const [untrustedLine, sigLine, trustedLine, globalLine] = ls as [string, string, string, string];
  if (!untrustedLine.startsWith(UNTRUSTED_PREFIX)) {
    throw malformed(`signature: the first line must start with "${UNTRUSTED_PREFIX}"`);
  }
  if (encodeUtf8(untrustedLine).length > MAX_UNTRUSTED_COMMENT_LINE_BYTES) {
    throw malformed(`signature: untrusted comment longer than ${MAX_UNTRUSTED_COMMENT_LINE_BYTES} bytes`);
  }
  if (!trustedLine.startsWith(TRUSTED_PREFIX)) {
    throw malformed(`signature: the third line must start with "${TRUSTED_PREFIX}"`);
  }
  const trustedComment = trustedLine.slice(TRUSTED_PREFIX.length);
  if (encodeUtf8(trustedComment).length > MAX_TRUSTED_COMMENT_BYTES) {
    throw malformed(`signature: trusted comment longer than ${MAX_TRUSTED_COMMENT_BYTES} bytes`);
  }
  const raw = decodeBase64(sigLine, SIGNATURE_BYTES, "signature");
  let algorithm: SignatureAlgorithm;
  if (sameBytes(raw, 0, ALG_PREHASHED)) algorithm = "ED";
  else if (sameBytes(raw, 0, ALG_ED)) algorithm = "Ed";
  else throw malformed("signature: unsupported signature algorithm");
  const globalSignature = decodeBase64(globalLine, 64, "signature: global signature");
  return {
    algorithm,
    keyId: raw.slice(2, 10),
    signature: raw.slice(10, 74),
    untrustedComment: untrustedLine.slice(UNTRUSTED_PREFIX.length),
    trustedComment,
    globalSignature,
  };
}

export function formatSignature(sig: Signature): string {
  const alg = sig.algorithm === "ED" ? ALG_PREHASHED : ALG_ED;
  return (
    `${UNTRUSTED_PREFIX}${sig.untrustedComment}\n` +
    `${encodeBase64(concat(new Uint8Array(alg), sig.keyId, sig.signature))}\n` +
    `${TRUSTED_PREFIX}${sig.trustedComment}\n` +
    `${encodeBase64(sig.globalSignature)}\n`
  );
}

/** minisign's default trusted comment for a prehashed signature. */
export function defaultTrustedComment(basename: string, timestamp: number): string {
  return `timestamp:${Math.floor(timestamp)}\tfile:${basename}\thashed`;
}

export interface TrustedComment {
  /** `key:value` fields (`timestamp`, `file`, ...). */
  fields: ReadonlyMap<string, string>;
  /** Bare words (`hashed`). */
  flags: readonly string[];
}

/** Splits a trusted comment into tab-separated `key:value` fields; a repeated key is malformed. */
export function parseTrustedComment(text: string): TrustedComment {
  const fields = new Map<string, string>();
  const flags: string[] = [];
  for (const part of text.split("\t")) {
    const colon = part.indexOf(":");
    if (colon < 0) {
      if (part !== "") flags.push(part);
      continue;
    }
    const key = part.slice(0, colon);
    if (fields.has(key)) throw malformed(`signature: trusted comment repeats the field "${key}"`);
    fields.set(key, part.slice(colon + 1));
  }
  return { fields, flags };
}

function checkComment(text: string, what: string, maxBytes: number): void {
  if (/[\r\n\0]/.test(text)) throw new UsageError(`${what} must be a single line without NUL`);
  if (encodeUtf8(text).length > maxBytes) throw new UsageError(`${what} is longer than ${maxBytes} bytes`);
}

/**
 * Signs `message` (the BLAKE2b-512 of the file for "ED", the file itself for "Ed") and the trusted comment.
 * Refuses comments minisign could not read back.
 */
export async function createSignature(
  sk: SecretKey,
  message: Uint8Array,
  trustedComment: string,
  opts: { algorithm?: SignatureAlgorithm; untrustedComment?: string } = {},
): Promise<Signature> {
  const untrustedComment = opts.untrustedComment ?? "signature from minisign secret key";
  checkComment(trustedComment, "the trusted comment", MAX_TRUSTED_COMMENT_BYTES);
  checkComment(
    untrustedComment,
    "the untrusted comment",
    MAX_UNTRUSTED_COMMENT_LINE_BYTES - UNTRUSTED_PREFIX.length,
  );
  const signature = await ed.sign(sk.seed, message);
  const globalSignature = await ed.sign(sk.seed, concat(signature, encodeUtf8(trustedComment)));
  return {
    algorithm: opts.algorithm ?? "ED",
    keyId: sk.keyId.slice(),
    signature,
    untrustedComment,
    trustedComment,
    globalSignature,
  };
}

export interface CheckOptions {
  /** The basename the trusted comment must name (`file:`); unchecked when undefined. */
  expectedFile?: string;
  /** Accept legacy "Ed" signatures (the whole file signed, no prehash). Off by default. */
  allowLegacy?: boolean;
  /** If the trusted comment has a `version:` field, it must be this version. */
  expectedVersion?: string;
}

export interface Envelope {
  /** The trusted key that made the signature. */
  key: PublicKey;
  keyId: string;
  trustedComment: string;
  comment: TrustedComment;
}

/**
 * Everything that can be checked without reading the signed file: the algorithm, that the key id is one of
 * `trusted` (E_KEY), the global signature over signature || trusted comment (E_SIGNATURE) and that the
 * trusted comment names `expectedFile` (E_SIGNATURE). Cheap, so a wrong signature is refused before a
 * large file is hashed. `checkMessage` completes the verification.
 */
export async function checkEnvelope(
  sig: Signature,
  trusted: readonly PublicKey[],
  opts: CheckOptions = {},
): Promise<Envelope> {
  if (sig.algorithm === "Ed" && !opts.allowLegacy) {
    throw new UpkeepError("E_SIGNATURE", "legacy (non-prehashed) signature refused", {
      hint: "re-sign with a current minisign or `upkeep release sign`, or accept it with --allow-legacy",
    });
  }
  const key = trusted.find((k) => equalBytes(k.keyId, sig.keyId));
  if (!key) {
    const known = trusted.map((k) => keyIdHex(k.keyId)).join(", ") || "none";
    throw new UpkeepError(
      "E_KEY",
      `signed by key ${keyIdHex(sig.keyId)}, which is not trusted (trusted: ${known})`,
    );
  }
  const signed = concat(sig.signature, encodeUtf8(sig.trustedComment));
  if (!(await ed.verify(key.key, sig.globalSignature, signed))) {
    throw new UpkeepError("E_SIGNATURE", "the trusted comment's signature does not verify");
  }
  const comment = parseTrustedComment(sig.trustedComment);
  if (opts.expectedFile !== undefined) {
    const named = comment.fields.get("file");
    if (named === undefined) {
      throw new UpkeepError(
        "E_SIGNATURE",
        `the trusted comment names no file; expected file:${opts.expectedFile}`,
      );
    }
    if (named !== opts.expectedFile) {
      throw new UpkeepError(
        "E_SIGNATURE",
        `the signature is for the file "${named}", not "${opts.expectedFile}"`,
      );
    }
  }
  const version = comment.fields.get("version");
  if (
    opts.expectedVersion !== undefined &&
    version !== undefined &&
    version.replace(/^v/, "") !== opts.expectedVersion
  ) {
    throw new UpkeepError(
      "E_SIGNATURE",
      `the signature is for version ${version}, not ${opts.expectedVersion}`,
    );
  }
  return { key, keyId: keyIdHex(key.keyId), trustedComment: sig.trustedComment, comment };
}

/** Checks the signature proper: `message` is BLAKE2b-512(file) for "ED", the whole file for "Ed". */
export async function checkMessage(sig: Signature, key: PublicKey, message: Uint8Array): Promise<void> {
  if (!(await ed.verify(key.key, sig.signature, message))) {
    throw new UpkeepError("E_SIGNATURE", "signature verification failed: the file is not what was signed");
  }
}

/** Verifies a signature of in-memory `data` (a manifest, a small file). */
export async function verifyBytes(
  data: Uint8Array,
  signatureText: string,
  trusted: readonly PublicKey[],
  opts: CheckOptions = {},
): Promise<Envelope> {
  const sig = parseSignature(signatureText);
  const envelope = await checkEnvelope(sig, trusted, opts);
  await checkMessage(sig, envelope.key, sig.algorithm === "ED" ? blake2b(data) : data);
  return envelope;
}

/** Signs in-memory `data` with minisign's default trusted comment; returns the `.minisig` text. */
export async function signBytes(
  sk: SecretKey,
  data: Uint8Array,
  basename: string,
  timestamp: number,
): Promise<string> {
  return formatSignature(
    await createSignature(sk, blake2b(data), defaultTrustedComment(basename, timestamp)),
  );
}
