/**
 * A strict streaming tar reader, pure: bytes in (any chunking), entries out, one header at a time before its
 * data. Reads POSIX ustar (with the prefix field), pax extended headers (`x`; global `g` only when it
 * sets nothing that changes names or sizes), GNU long names and long link names (`L`, `K`), base-256
 * numbers and v7 headers. It decides nothing about safety: ./extract_policy.ts does, on each entry.
 *
 * Strict where tar implementations differ, so what we extract is what every other reader would see:
 * a bad header checksum, a malformed pax record, a number that is not octal, a header-only entry
 * (directory, link, device) that claims data, an archive cut inside an entry, anything but zero padding
 * after the end-of-archive marker (an extra gzip member, trailing data): all E_MALFORMED.
 * Data passes through as views of the input chunks (no copy); only headers and pax/long-name bodies
 * (capped at MAX_META_BYTES) are buffered, so memory stays flat whatever the archive size.
 */
import { UpkeepError } from "../errors.ts";

export const BLOCK = 512;
/** Largest pax or GNU long-name body accepted. */
export const MAX_META_BYTES = 1 << 20;
/**
 * Most zero bytes accepted after the end-of-archive marker. GNU tar pads to a record (10 KiB by default,
 * `-b 2048` gives 1 MiB); more is no archive anyone writes.
 */
export const MAX_TRAILING_BYTES = 1 << 20;

export type EntryKind =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "character-device"
  | "block-device"
  | "fifo"
  | "other";

export interface TarEntry {
  /** The name as archived (pax path > GNU long name > ustar prefix/name), not yet normalized. */
  path: string;
  kind: EntryKind;
  /** The raw typeflag character, for messages ("S" for a GNU sparse file...). */
  typeflag: string;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  /** Data bytes that follow (0 for header-only kinds). */
  size: number;
  /** Symlink or hardlink target ("" otherwise). */
  linkpath: string;
  /** Index of the entry in the archive (0-based, meta headers not counted). */
  index: number;
}

export interface TarSink {
  /** A header; throw to stop reading. The entry's data follows through `data`, then `end`. */
  entry(e: TarEntry): void;
  data(chunk: Uint8Array): void;
  end(e: TarEntry): void;
}

function malformed(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", `archive: ${message}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
}

/** A NUL-terminated fixed-width field. */
function field(block: Uint8Array, offset: number, length: number, what: string): string {
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

function checksumOk(block: Uint8Array): boolean {
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

function isZero(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

const KINDS: Record<string, EntryKind> = {
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
const HEADER_ONLY = new Set<EntryKind>([
  "directory",
  "symlink",
  "hardlink",
  "character-device",
  "block-device",
  "fifo",
]);

interface Overrides {
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

function overridesFromPax(records: Map<string, string>, into: Overrides): void {
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
function longName(body: Uint8Array, what: string): string {
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end--;
  const name = text(body.subarray(0, end), what);
  if (name.includes("\0")) {
    throw new UpkeepError("E_UNSAFE_ARCHIVE", `unsafe archive entry: a ${what} contains a NUL byte`);
  }
  return name;
}

const State = {
  Header: 0,
  Data: 1,
  Meta: 2,
  Padding: 3,
  /** One zero block read: the next must be zero too (end of archive). */
  ZeroSeen: 4,
  Done: 5,
} as const;
type State = (typeof State)[keyof typeof State];

export class TarReader {
  readonly #sink: TarSink;
  #state: State = State.Header;
  /** Header block being assembled. */
  readonly #block = new Uint8Array(BLOCK);
  #blockFill = 0;
  #remaining = 0;
  #padding = 0;
  #entry: TarEntry | undefined;
  #meta: Uint8Array | undefined;
  #metaFill = 0;
  #metaType = "";
  #pending: Overrides = {};
  #index = 0;
  /** Bytes consumed, for messages. */
  #offset = 0;
  /** Zero bytes seen after the end-of-archive marker. */
  #trailingBytes = 0;

  constructor(sink: TarSink) {
    this.#sink = sink;
  }

  /**
   * True once the end-of-archive marker was read. Later input may only be zeros (GNU tar pads the archive to
   * a whole record): anything else (more entries in an extra gzip member, trailing data) is E_MALFORMED, as
   * other readers could take it for more of the archive.
   */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Entries seen so far. */
  get entries(): number {
    return this.#index;
  }

  /**
   * Feeds bytes; returns true once the end of the archive has been reached. Keep feeding what follows to the
   * end of the stream: it is checked to be zero padding.
   */
  write(chunk: Uint8Array): boolean {
    let off = 0;
    if (this.done) {
      this.#trailing(chunk);
      return true;
    }
    while (off < chunk.length && !this.done) {
      switch (this.#state) {
        case State.Header:
        case State.ZeroSeen: {
          const n = Math.min(BLOCK - this.#blockFill, chunk.length - off);
          this.#block.set(chunk.subarray(off, off + n), this.#blockFill);
          this.#blockFill += n;
          off += n;
          if (this.#blockFill === BLOCK) {
            this.#blockFill = 0;
            this.#header();
            this.#offset += BLOCK;
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.#remaining, chunk.length - off);
          const entry = this.#entry;
          if (entry && n > 0) this.#sink.data(chunk.subarray(off, off + n));
          this.#remaining -= n;
          this.#offset += n;
          off += n;
          if (this.#remaining === 0) this.#finishEntry();
          break;
        }
        case State.Meta: {
          const meta = this.#meta ?? new Uint8Array(0);
          const n = Math.min(meta.length - this.#metaFill, chunk.length - off);
          meta.set(chunk.subarray(off, off + n), this.#metaFill);
          this.#metaFill += n;
          this.#offset += n;
          off += n;
          if (this.#metaFill === meta.length) this.#finishMeta();
          break;
        }
        case State.Padding: {
          const n = Math.min(this.#padding, chunk.length - off);
          this.#padding -= n;
          this.#offset += n;
          off += n;
          if (this.#padding === 0) this.#state = State.Header;
          break;
        }
      }
    }
    if (this.done && off < chunk.length) this.#trailing(chunk.subarray(off));
    return this.done;
  }

  /** Input after the end-of-archive marker: zeros only, at most MAX_TRAILING_BYTES of them. */
  #trailing(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 0) throw malformed(`data after the end of the archive (at byte ${this.#offset + i})`);
    }
    this.#trailingBytes += chunk.length;
    if (this.#trailingBytes > MAX_TRAILING_BYTES) {
      throw malformed(`more than ${MAX_TRAILING_BYTES} bytes of padding after the end of the archive`);
    }
    this.#offset += chunk.length;
  }

  /** The input ended: E_MALFORMED when it ended inside an entry or a header. */
  end(): void {
    if (this.#state === State.Done || this.#state === State.ZeroSeen) return;
    if (this.#state === State.Header && this.#blockFill === 0) {
      // No end-of-archive marker, but cut cleanly between entries: what GNU tar accepts too.
      if (
        this.#pending.path !== undefined ||
        this.#pending.linkpath !== undefined ||
        this.#pending.size !== undefined
      )
        throw malformed("archive ends after an extended header, without its entry");
      this.#state = State.Done;
      return;
    }
    throw malformed(`archive is truncated at byte ${this.#offset}`);
  }

  #header(): void {
    const block = this.#block;
    if (isZero(block)) {
      // Two zero blocks end the archive; one alone at the very end is tolerated (GNU tar does too).
      this.#state = this.#state === State.ZeroSeen ? State.Done : State.ZeroSeen;
      return;
    }
    if (this.#state === State.ZeroSeen) throw malformed(`a lone zero block before byte ${this.#offset}`);
    if (!checksumOk(block)) throw malformed(`bad header checksum at byte ${this.#offset}`);
    const magic = block.subarray(257, 263);
    const posix = magic[0] === 0x75 && text(magic, "magic") === "ustar\0";
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const size = parseNumber(block, 124, 12, "size");

    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      if (size > MAX_META_BYTES) throw malformed(`extended header of ${size} bytes (cap ${MAX_META_BYTES})`);
      this.#meta = new Uint8Array(size);
      this.#metaFill = 0;
      this.#metaType = typeflag;
      if (size === 0) this.#finishMeta();
      else this.#state = State.Meta;
      return;
    }

    let name = field(block, 0, 100, "entry name");
    if (posix) {
      const prefix = field(block, 345, 155, "entry name prefix");
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    const pending = this.#pending;
    this.#pending = {};
    const path = pending.path ?? name;
    const linkpath = pending.linkpath ?? field(block, 157, 100, "link name");
    let kind: EntryKind = KINDS[typeflag] ?? "other";
    const dataSize = pending.size ?? size;
    // v7 archives mark directories with a trailing slash on a regular-file entry.
    if (kind === "file" && typeflag !== "7" && path.endsWith("/") && dataSize === 0) kind = "directory";
    if (HEADER_ONLY.has(kind) && dataSize !== 0) {
      throw malformed(`${kind} entry "${path}" claims ${dataSize} bytes of data`);
    }
    const entry: TarEntry = {
      path,
      kind,
      typeflag,
      mode: parseNumber(block, 100, 8, "mode") & 0o7777,
      size: dataSize,
      linkpath: kind === "symlink" || kind === "hardlink" ? linkpath : "",
      index: this.#index++,
    };
    this.#entry = entry;
    this.#sink.entry(entry);
    this.#remaining = dataSize;
    this.#padding = (BLOCK - (dataSize % BLOCK)) % BLOCK;
    if (dataSize === 0) this.#finishEntry();
    else this.#state = State.Data;
  }

  #finishEntry(): void {
    const entry = this.#entry;
    this.#entry = undefined;
    if (entry) this.#sink.end(entry);
    this.#state = this.#padding > 0 ? State.Padding : State.Header;
  }

  #finishMeta(): void {
    const body = this.#meta ?? new Uint8Array(0);
    this.#meta = undefined;
    switch (this.#metaType) {
      case "x":
        overridesFromPax(parsePax(body), this.#pending);
        break;
      case "g": {
        const records = parsePax(body);
        for (const key of ["path", "linkpath", "size"]) {
          if (records.has(key)) {
            throw new UpkeepError(
              "E_UNSAFE_ARCHIVE",
              `archive has a global pax header setting "${key}" for every entry: refused`,
            );
          }
        }
        overridesFromPax(records, {});
        break;
      }
      case "L":
        if (this.#pending.path === undefined) this.#pending.path = longName(body, "GNU long name");
        break;
      case "K":
        if (this.#pending.linkpath === undefined)
          this.#pending.linkpath = longName(body, "GNU long link name");
        break;
    }
    this.#padding = (BLOCK - (body.length % BLOCK)) % BLOCK;
    this.#state = this.#padding > 0 ? State.Padding : State.Header;
  }
}
