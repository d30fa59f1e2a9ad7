/** Byte helpers for the trust formats: strict base64, hex, little-endian integers, comparisons. */
import { UpkeepError } from "../errors.ts";

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64 and refuses anything else: other alphabets, whitespace, missing padding,
 * non-zero trailing bits (so one byte string has exactly one encoding), and a length other than `length`.
 */
export function decodeBase64(text: string, length: number, what: string): Uint8Array {
  if (text.length !== Math.ceil(length / 3) * 4 || !B64.test(text)) {
    throw new UpkeepError("E_MALFORMED", `${what}: not the base64 of ${length} bytes`);
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (out.length !== length || encodeBase64(out) !== text) {
    throw new UpkeepError("E_MALFORMED", `${what}: not the canonical base64 of ${length} bytes`);
  }
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Writes `value` (< 2^64) as 8 little-endian bytes at `offset`. */
export function writeLe64(out: Uint8Array, offset: number, value: bigint): void {
  for (let i = 0; i < 8; i++) out[offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

export function readLe64(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Equality without an early exit on the first difference. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function encodeUtf8(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Decodes UTF-8, refusing invalid sequences with a coded error. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new UpkeepError("E_MALFORMED", `${what}: not valid UTF-8`);
  }
}
