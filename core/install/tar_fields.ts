/**
 * The fields of a tar header block and of the metadata entries (pax records, GNU long names), parsed
 * strictly for ./tar.ts: octal or base-256 numbers, NUL-terminated UTF-8 strings, the header checksum.
 * Pure; every refusal is E_MALFORMED (E_UNSAFE_ARCHIVE for what no safe archive holds).
 */
import { UpkeepError } from "../errors.ts";

export const BLOCK = 512;

export type EntryKind =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "character-device"
  | "block-device"
  | "fifo"
  | "other";

export function malformed(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", `archive: ${message}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
}

/** A NUL-terminated fixed-width field. */
export function field(block: Uint8Array, offset: number, length: number, what: string): string {
  const f = block.subarray(offset, offset + length);
  const nul = f.indexOf(0);
  return text(nul === -1 ? f : f.subarray(0, nul), what);
}

/** An octal number (leading spaces, NUL/space terminated) or GNU base-256 (high bit set). */
export function parseNumber(block: Uint8Array, offset: number, length: number, what: string): number {
  const f = block.subarray(offset, offset + length);
  const first = f[0] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw malformed(`negative ${what}`);
    let v = first & 0x7f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + (f[i] ?? 0);
      if (!Number.isSafeInteger(v)) throw malformed(`${what} too large`);
    }
    return v;
  }
  let i = 0;
  while (i < f.length && f[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < f.length; i++) {
    const c = f[i] ?? 0;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw malformed(`${what} is not an octal number`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  // Only terminators may follow.
  for (; i < f.length; i++) {
    const c = f[i] ?? 0;
    if (c !== 0 && c !== 0x20) throw malformed(`${what} is not an octal number`);
  }
  if (digits === 0) return 0;
  if (!Number.isSafeInteger(v)) throw malformed(`${what} too large`);
  return v;
}

export function checksumOk(block: Uint8Array): boolean {
  const stored = parseNumber(block, 148, 8, "header checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

export function isZero(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

export const KINDS: Record<string, EntryKind> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};

/** Kinds whose header is the whole entry: a non-zero size there is refused rather than guessed at. */
export const HEADER_ONLY = new Set<EntryKind>([
  "directory",
  "symlink",
  "hardlink",
  "character-device",
  "block-device",
  "fifo",
]);

export interface Overrides {
  path?: string;
  linkpath?: string;
  size?: number;
}

/** Parses a pax extended header body: `LEN key=value\n` records, strictly. */
export function parsePax(body: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (body[off] === 0 && isZero(body.subarray(off))) break;
    const space = body.indexOf(0x20, off);
    if (space === -1 || space - off > 12) throw malformed("malformed pax record length");
    const lenText = text(body.subarray(off, space), "pax record");
    if (!/^[1-9][0-9]*$/.test(lenText)) throw malformed("malformed pax record length");
    const len = Number(lenText);
    const end = off + len;
    if (end > body.length || end <= space + 1 || body[end - 1] !== 0x0a)
      throw malformed("malformed pax record");
    const record = body.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw malformed("malformed pax record (no key)");
    const key = text(record.subarray(0, eq), "pax key");
    const value = text(record.subarray(eq + 1), `pax ${key}`);
    out.set(key, value);
    off = end;
  }
  return out;
}

export function overridesFromPax(records: Map<string, string>, into: Overrides): void {
  for (const [key, value] of records) {
    if (key.startsWith("GNU.sparse.")) {
      throw new UpkeepError(
        "E_UNSAFE_ARCHIVE",
        "archive has a sparse file (GNU.sparse pax records): refused",
      );
    }
    if (key === "path") into.path = value;
    else if (key === "linkpath") into.linkpath = value;
    else if (key === "size") {
      if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value)))
        throw malformed(`pax size "${value}" is not a size`);
      into.size = Number(value);
    }
  }
}

/** A GNU long name body: the name and its NUL terminator(s). */
export function longName(body: Uint8Array, what: string): string {
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end--;
  const name = text(body.subarray(0, end), what);
  if (name.includes("\0")) {
    throw new UpkeepError("E_UNSAFE_ARCHIVE", `unsafe archive entry: a ${what} contains a NUL byte`);
  }
  return name;
}
