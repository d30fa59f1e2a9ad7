/**
 * minisign formats (public keys, secret keys, signatures) and signature checks. Byte-compatible with
 * minisign 0.11 and signify's minisign mode; checked against the real tool by test/release*.test.ts.
 *
 * - Public key: `untrusted comment: ...` + base64("Ed" | key id (8) | Ed25519 key (32)).
 * - Signature: `untrusted comment: ...` + base64("ED" | key id | sig over BLAKE2b-512(file)) +
 *   `trusted comment: <text>` + base64(sig over sig || text). "Ed" (legacy) signs the file itself.
 * - Secret key: base64("Ed" | kdf "Sc" or 0000 | "B2" | salt (32) | opslimit (8 LE) | memlimit (8 LE) |
 *   [key id (8) | seed || public key (64) | BLAKE2b-256 checksum (32)]), the bracket XORed with a scrypt
 *   keystream when encrypted.
 *
 * Everything here is pure. Every refusal is an UpkeepError with a code: E_MALFORMED (cannot be parsed),
 * E_KEY (no trusted key with that id, bad or undecryptable secret key), E_SIGNATURE (does not verify, or
 * verifies for another file, or legacy and not allowed).
 */
import { UpkeepError, UsageError } from "../errors.ts";
import { blake2b } from "./blake2b.ts";
import * as ed from "./ed25519.ts";
import {
  concat,
  decodeBase64,
  encodeBase64,
  encodeUtf8,
  equalBytes,
  readLe64,
  toHex,
  writeLe64,
} from "./encoding.ts";

export const KEY_ID_BYTES = 8;
/** Longest signature file accepted: 4 lines, the trusted comment at most `MAX_TRUSTED_COMMENT_BYTES`. */
export const MAX_SIGNATURE_FILE_BYTES = 16 * 1024;
/** minisign refuses to write longer trusted comments (TRUSTEDCOMMENTMAXBYTES - sizeof prefix). */
export const MAX_TRUSTED_COMMENT_BYTES = 8173;
/** minisign reads the untrusted comment line into 1024 bytes, newline and NUL included. */
export const MAX_UNTRUSTED_COMMENT_LINE_BYTES = 1022;
export const MAX_KEY_FILE_BYTES = 4096;

const UNTRUSTED_PREFIX = "untrusted comment: ";
const TRUSTED_PREFIX = "trusted comment: ";
const ALG_ED = [0x45, 0x64]; // "Ed"
const ALG_PREHASHED = [0x45, 0x44]; // "ED"
const KDF_SCRYPT = [0x53, 0x63]; // "Sc"
const KDF_NONE = [0x00, 0x00];
const CHK_BLAKE2B = [0x42, 0x32]; // "B2"

const PUBLIC_KEY_BYTES = 2 + KEY_ID_BYTES + 32;
const SIGNATURE_BYTES = 2 + KEY_ID_BYTES + 64;
const SECRET_KEY_BYTES = 2 + 2 + 2 + 32 + 8 + 8 + KEY_ID_BYTES + 64 + 32;
/** The part of a secret key that the scrypt keystream encrypts: key id, secret key, checksum. */
export const SEALED_BYTES = KEY_ID_BYTES + 64 + 32;

// minisign's defaults for encrypted keys (libsodium's scryptsalsa208sha256 "sensitive" limits).
export const OPSLIMIT_SENSITIVE = 33554432n;
export const MEMLIMIT_SENSITIVE = 1073741824n;

export interface PublicKey {
  /** 8 bytes, as stored. */
  keyId: Uint8Array;
  /** Ed25519 public key, 32 bytes. */
  key: Uint8Array;
}

export interface SecretKey {
  keyId: Uint8Array;
  /** Ed25519 seed, 32 bytes. */
  seed: Uint8Array;
  publicKey: Uint8Array;
}

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

function malformed(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", message);
}

function sameBytes(bytes: Uint8Array, offset: number, expected: number[]): boolean {
  return expected.every((b, i) => bytes[offset + i] === b);
}

/** minisign's spelling of a key id: the little-endian 64-bit integer in upper-case hex. */
export function keyIdHex(keyId: Uint8Array): string {
  return toHex(keyId.slice().reverse()).toUpperCase();
}

/** Splits a small text file into lines (LF or CRLF); refuses NUL, which C tools would truncate at. */
function lines(text: string, what: string, maxBytes: number): string[] {
  if (text.length > maxBytes || encodeUtf8(text).length > maxBytes) {
    throw malformed(`${what}: longer than ${maxBytes} bytes`);
  }
  if (text.includes("\0")) throw malformed(`${what}: contains a NUL byte`);
  const out = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  // minisign cuts a line at a stray CR; refusing it keeps both tools reading the same bytes.
  if (out.some((l) => l.includes("\r"))) throw malformed(`${what}: stray carriage return inside a line`);
  // Trailing blank lines are tolerated; anything else after the expected lines is not (callers check).
  while (out.length > 0 && out[out.length - 1]?.trim() === "") out.pop();
  return out;
}

// --- public keys ------------------------------------------------------------------------------------

/** Parses a public key file (`untrusted comment:` line + base64) or the bare base64 (like `minisign -P`). */
export function parsePublicKey(text: string): PublicKey {
  const ls = lines(text, "public key", MAX_KEY_FILE_BYTES);
  let b64: string | undefined;
  if (ls.length === 1) b64 = ls[0]?.trim();
  else if (ls.length === 2 && ls[0]?.startsWith(UNTRUSTED_PREFIX)) b64 = ls[1]?.trim();
  if (b64 === undefined) {
    throw malformed(
      "public key: expected an `untrusted comment:` line and a base64 line, or the base64 alone",
    );
  }
  const raw = decodeBase64(b64, PUBLIC_KEY_BYTES, "public key");
  if (!sameBytes(raw, 0, ALG_ED))
    throw malformed("public key: unsupported signature algorithm (not Ed25519)");
  return { keyId: raw.slice(2, 10), key: raw.slice(10, 42) };
}

/** The base64 form (what `minisign -P` takes). */
export function encodePublicKey(pk: PublicKey): string {
  return encodeBase64(concat(new Uint8Array(ALG_ED), pk.keyId, pk.key));
}

/** A public key file, as `minisign -G` writes it. */
export function formatPublicKey(pk: PublicKey): string {
  return `${UNTRUSTED_PREFIX}minisign public key ${keyIdHex(pk.keyId)}\n${encodePublicKey(pk)}\n`;
}

// --- signatures -------------------------------------------------------------------------------------

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

// --- secret keys ------------------------------------------------------------------------------------

export interface SecretKeyFile {
  kdf: "scrypt" | "none";
  salt: Uint8Array;
  opslimit: bigint;
  memlimit: bigint;
  /** Key id, secret key and checksum; encrypted when `kdf` is "scrypt". */
  sealed: Uint8Array;
}

export function parseSecretKeyFile(text: string): SecretKeyFile {
  const ls = lines(text, "secret key", MAX_KEY_FILE_BYTES);
  if (ls.length !== 2 || !ls[0]?.startsWith(UNTRUSTED_PREFIX)) {
    throw new UpkeepError("E_KEY", "secret key: expected an `untrusted comment:` line and a base64 line");
  }
  let raw: Uint8Array;
  try {
    raw = decodeBase64(ls[1]?.trim() ?? "", SECRET_KEY_BYTES, "secret key");
  } catch (e) {
    throw new UpkeepError("E_KEY", e instanceof Error ? e.message : "secret key: bad base64");
  }
  if (!sameBytes(raw, 0, ALG_ED))
    throw new UpkeepError("E_KEY", "secret key: unsupported signature algorithm");
  if (!sameBytes(raw, 4, CHK_BLAKE2B))
    throw new UpkeepError("E_KEY", "secret key: unsupported checksum algorithm");
  let kdf: SecretKeyFile["kdf"];
  if (sameBytes(raw, 2, KDF_SCRYPT)) kdf = "scrypt";
  else if (sameBytes(raw, 2, KDF_NONE)) kdf = "none";
  else throw new UpkeepError("E_KEY", "secret key: unsupported key derivation function");
  return {
    kdf,
    salt: raw.slice(6, 38),
    opslimit: readLe64(raw, 38),
    memlimit: readLe64(raw, 46),
    sealed: raw.slice(54),
  };
}

function checksum(keyId: Uint8Array, sk: Uint8Array): Uint8Array {
  return blake2b(concat(new Uint8Array(ALG_ED), keyId, sk), 32);
}

/**
 * Opens a parsed secret key; `keystream` (SEALED_BYTES of scrypt output) is required when it is
 * encrypted. A wrong password shows as a checksum mismatch (E_KEY).
 */
export async function openSecretKey(file: SecretKeyFile, keystream?: Uint8Array): Promise<SecretKey> {
  const body = file.sealed.slice();
  if (file.kdf === "scrypt") {
    if (!keystream || keystream.length !== SEALED_BYTES) {
      throw new UpkeepError("E_INTERNAL", "an encrypted secret key needs its keystream");
    }
    for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (keystream[i] ?? 0);
  }
  const keyId = body.slice(0, 8);
  const sk = body.slice(8, 72);
  const stored = body.slice(72, 104);
  const expected = checksum(keyId, sk);
  // minisign -G -W leaves the checksum of an unencrypted key zeroed; accept that, or the right one.
  const unencryptedZero = file.kdf === "none" && stored.every((b) => b === 0);
  if (!unencryptedZero && !equalBytes(stored, expected)) {
    throw new UpkeepError(
      "E_KEY",
      file.kdf === "scrypt"
        ? "wrong password for that secret key"
        : "secret key: checksum mismatch (corrupted)",
    );
  }
  const seed = sk.slice(0, 32);
  const publicKey = sk.slice(32, 64);
  if (!equalBytes(await ed.publicKeyOf(seed), publicKey)) {
    throw new UpkeepError("E_KEY", "secret key: its public half does not match its seed (corrupted)");
  }
  return { keyId, seed, publicKey };
}

export interface Encryption {
  salt: Uint8Array;
  opslimit: bigint;
  memlimit: bigint;
  /** scrypt(password, salt, params of opslimit/memlimit), SEALED_BYTES long. */
  keystream: Uint8Array;
}

/** A secret key file; encrypted when `enc` is given, else unencrypted (kdf 0000, like `minisign -W`). */
export function formatSecretKey(sk: SecretKey, enc?: Encryption): string {
  const raw = new Uint8Array(SECRET_KEY_BYTES);
  raw.set(ALG_ED, 0);
  raw.set(enc ? KDF_SCRYPT : KDF_NONE, 2);
  raw.set(CHK_BLAKE2B, 4);
  const full = concat(sk.seed, sk.publicKey);
  const body = concat(sk.keyId, full, checksum(sk.keyId, full));
  if (enc) {
    if (enc.salt.length !== 32 || enc.keystream.length !== SEALED_BYTES) {
      throw new UpkeepError("E_INTERNAL", "bad secret key encryption parameters");
    }
    raw.set(enc.salt, 6);
    writeLe64(raw, 38, enc.opslimit);
    writeLe64(raw, 46, enc.memlimit);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (enc.keystream[i] ?? 0);
  }
  raw.set(body, 54);
  const comment = enc ? "minisign encrypted secret key" : "minisign unencrypted secret key";
  return `${UNTRUSTED_PREFIX}${comment}\n${encodeBase64(raw)}\n`;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Largest scrypt work accepted from a key file (128·N·r·p bytes): 4x minisign's default. */
const MAX_SCRYPT_WORK = 4n * 1024n * 1024n * 1024n;

/**
 * libsodium's `pickparams`: the scrypt N, r, p that crypto_pwhash_scryptsalsa208sha256 derives from
 * opslimit and memlimit. Refuses parameters that would take more than 4x minisign's default work.
 */
export function scryptParams(opslimitIn: bigint, memlimit: bigint): ScryptParams {
  const opslimit = opslimitIn < 32768n ? 32768n : opslimitIn;
  const r = 8n;
  let nLog2 = 1n;
  let p: bigint;
  if (opslimit < memlimit / 32n) {
    p = 1n;
    const maxN = opslimit / (r * 4n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
  } else {
    const maxN = memlimit / (r * 128n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
    let maxrp = opslimit / 4n / (1n << nLog2);
    if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
    p = maxrp / r;
  }
  const N = 1n << nLog2;
  if (p < 1n || 128n * N * r * p > MAX_SCRYPT_WORK || 128n * N * r > MAX_SCRYPT_WORK / 2n) {
    throw new UpkeepError("E_KEY", "secret key: unsupported key derivation parameters");
  }
  return { N: Number(N), r: Number(r), p: Number(p) };
}

/** A new key pair (random key id and seed). */
export async function generateKeyPair(): Promise<{ secretKey: SecretKey; publicKey: PublicKey }> {
  const keyId = ed.randomBytes(KEY_ID_BYTES);
  const seed = ed.randomBytes(32);
  const pub = await ed.publicKeyOf(seed);
  return {
    secretKey: { keyId, seed, publicKey: pub },
    publicKey: { keyId: keyId.slice(), key: pub.slice() },
  };
}

export function publicKeyOfSecret(sk: SecretKey): PublicKey {
  return { keyId: sk.keyId.slice(), key: sk.publicKey.slice() };
}
