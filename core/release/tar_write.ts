/**
 * Writing tar (ustar) headers, pure: bytes out, no I/O. Used by `upkeep release pack` (through
 * core/sys/release/pack.ts) and by scripts/fake-release.ts, which also uses it to write the malicious
 * archives the installer must refuse (so `tarHeader` writes whatever it is given, and checks nothing but
 * that each field fits).
 *
 *     tarHeader({name, mode, size, type, linkname, ...})   one 512-byte header block
 *     entryHeaders({...})                                  the header, preceded by a pax header when a name
 *                                                           does not fit ustar's name/prefix fields
 *     padding(size)                                        the zeros after `size` bytes of data
 *     END_OF_ARCHIVE                                       two zero blocks
 */
import { encodeUtf8 } from "../trust/encoding.ts";

export const BLOCK = 512;

export interface HeaderFields {
  name: string;
  mode?: number;
  size?: number;
  /** Typeflag: "0" file (default), "5" folder, "2" symlink, "1" hardlink, "3"/"4" devices, "x" pax... */
  type?: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Seconds since the epoch (default 0: reproducible). */
  mtime?: number;
  /** ustar's prefix field (155 bytes): the leading folders of a name longer than 100 bytes. */
  prefix?: string;
}

function putBytes(block: Uint8Array, off: number, len: number, b: Uint8Array, what: string): void {
  if (b.length > len) throw new Error(`tar ${what} field too long (${b.length} > ${len} bytes)`);
  block.set(b, off);
}

function putString(block: Uint8Array, off: number, len: number, s: string, what: string): void {
  putBytes(block, off, len, encodeUtf8(s), what);
}

function putOctal(block: Uint8Array, off: number, len: number, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`tar ${what}: not a non-negative integer (${n})`);
  if (n >= 8 ** (len - 1)) {
    // GNU base-256 for numbers the octal field cannot hold (sizes over 8 GiB).
    block[off] = 0x80;
    let v = BigInt(n);
    for (let i = off + len - 1; i > off; i--) {
      block[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return;
  }
  putString(block, off, len - 1, n.toString(8).padStart(len - 1, "0"), what);
}

/** One ustar header block (owner 0:0 "root"). */
export function tarHeader(h: HeaderFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putString(block, 0, 100, h.name, "name");
  putOctal(block, 100, 8, h.mode ?? 0o644, "mode");
  putOctal(block, 108, 8, 0, "uid");
  putOctal(block, 116, 8, 0, "gid");
  putOctal(block, 124, 12, h.size ?? 0, "size");
  putOctal(block, 136, 12, h.mtime ?? 0, "mtime");
  block.fill(0x20, 148, 156);
  putString(block, 156, 1, h.type ?? "0", "typeflag");
  putString(block, 157, 100, h.linkname ?? "", "linkname");
  putString(block, 257, 6, "ustar\0", "magic");
  putString(block, 263, 2, "00", "version");
  putString(block, 265, 32, "root", "uname");
  putString(block, 297, 32, "root", "gname");
  putOctal(block, 329, 8, h.devmajor ?? 0, "devmajor");
  putOctal(block, 337, 8, h.devminor ?? 0, "devminor");
  putString(block, 345, 155, h.prefix ?? "", "prefix");
  let sum = 0;
  for (const b of block) sum += b;
  putString(block, 148, 7, sum.toString(8).padStart(6, "0"), "checksum");
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** The zeros that complete a data block. */
export function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE: Uint8Array = new Uint8Array(2 * BLOCK);

/** `name` split into ustar's prefix and name fields, or undefined when it does not fit them. */
export function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  const bytes = encodeUtf8(name);
  if (bytes.length <= 100) return { prefix: "", name };
  // The split is at a "/" with at most 155 bytes before it and at most 100 after it.
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] !== 0x2f || i === bytes.length - 1) continue;
    if (bytes.length - i - 1 > 100) return undefined;
    if (i > 155) continue;
    const dec = new TextDecoder();
    return { prefix: dec.decode(bytes.subarray(0, i)), name: dec.decode(bytes.subarray(i + 1)) };
  }
  return undefined;
}

/** One pax record: `<length> <key>=<value>\n`, the length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = encodeUtf8(body).length;
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  return `${len}${body}`;
}

/**
 * The blocks that start an entry: its ustar header, preceded by a pax extended header (`x`) carrying
 * `path` and/or `linkpath` when they do not fit the ustar fields. Data and padding follow (the caller's).
 */
export function entryHeaders(h: Omit<HeaderFields, "prefix">): Uint8Array[] {
  const split = splitUstarName(h.name);
  const linkFits = encodeUtf8(h.linkname ?? "").length <= 100;
  if (split && linkFits) return [tarHeader({ ...h, name: split.name, prefix: split.prefix })];
  let records = "";
  if (!split) records += paxRecord("path", h.name);
  if (!linkFits) records += paxRecord("linkpath", h.linkname ?? "");
  const body = encodeUtf8(records);
  // The ustar fields keep a recognisable, truncated-free placeholder: readers that know pax use the records.
  const shortName = split ? split.name : `PaxName/${h.name.split("/").pop()?.slice(0, 80) ?? ""}`;
  const pax = tarHeader({ name: "PaxHeader", type: "x", size: body.length, mtime: h.mtime ?? 0 });
  return [
    pax,
    body,
    padding(body.length),
    tarHeader({
      ...h,
      name: encodeUtf8(shortName).length <= 100 ? shortName : "PaxName",
      prefix: split ? split.prefix : "",
      linkname: linkFits ? (h.linkname ?? "") : "",
    }),
  ];
}
