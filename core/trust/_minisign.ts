/**
 * What the minisign modules share: sizes and algorithm bytes of the formats, the key types, and the strict
 * line splitting of small text files. Pure. The public API is ./minisign.ts.
 */
import { UpkeepError } from "../errors.ts";
import { encodeUtf8, toHex } from "./encoding.ts";

export const KEY_ID_BYTES = 8;
/** Longest signature file accepted: 4 lines, the trusted comment at most `MAX_TRUSTED_COMMENT_BYTES`. */
export const MAX_SIGNATURE_FILE_BYTES = 16 * 1024;
/** minisign refuses to write longer trusted comments (TRUSTEDCOMMENTMAXBYTES - sizeof prefix). */
export const MAX_TRUSTED_COMMENT_BYTES = 8173;
/** minisign reads the untrusted comment line into 1024 bytes, newline and NUL included. */
export const MAX_UNTRUSTED_COMMENT_LINE_BYTES = 1022;
export const MAX_KEY_FILE_BYTES = 4096;

export const UNTRUSTED_PREFIX = "untrusted comment: ";
export const TRUSTED_PREFIX = "trusted comment: ";
export const ALG_ED = [0x45, 0x64]; // "Ed"
export const ALG_PREHASHED = [0x45, 0x44]; // "ED"
export const KDF_SCRYPT = [0x53, 0x63]; // "Sc"
export const KDF_NONE = [0x00, 0x00];
export const CHK_BLAKE2B = [0x42, 0x32]; // "B2"

export const PUBLIC_KEY_BYTES = 2 + KEY_ID_BYTES + 32;
export const SIGNATURE_BYTES = 2 + KEY_ID_BYTES + 64;
export const SECRET_KEY_BYTES = 2 + 2 + 2 + 32 + 8 + 8 + KEY_ID_BYTES + 64 + 32;
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

export function malformed(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", message);
}

export function sameBytes(bytes: Uint8Array, offset: number, expected: number[]): boolean {
  return expected.every((b, i) => bytes[offset + i] === b);
}

/** minisign's spelling of a key id: the little-endian 64-bit integer in upper-case hex. */
export function keyIdHex(keyId: Uint8Array): string {
  return toHex(keyId.slice().reverse()).toUpperCase();
}

/** Splits a small text file into lines (LF or CRLF); refuses NUL, which C tools would truncate at. */
export function lines(text: string, what: string, maxBytes: number): string[] {
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
