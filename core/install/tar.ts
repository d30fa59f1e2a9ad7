/**
 * A strict streaming tar reader, pure: bytes in (any chunking), entries out, one header at a time before its
 * data. Reads POSIX ustar (with the prefix field), pax extended headers (`x`; global `g` only when it
 * sets nothing that changes names or sizes), GNU long names and long link names (`L`, `K`), base-256
 * numbers and v7 headers (each field parsed by ./tar_fields.ts). It decides nothing about safety:
 * ./extract_policy.ts does, on each entry.
 *
 * Strict where tar implementations differ, so what we extract is what every other reader would see:
 * a bad header checksum, a malformed pax record, a number that is not octal, a header-only entry
 * (directory, link, device) that claims data, an archive cut inside an entry, anything but zero padding
 * after the end-of-archive marker (an extra gzip member, trailing data): all E_MALFORMED.
 * Data passes through as views of the input chunks (no copy); only headers and pax/long-name bodies
 * (capped at MAX_META_BYTES) are buffered, so memory stays flat whatever the archive size.
 */
import { UpkeepError } from "../errors.ts";
import {
  BLOCK,
  checksumOk,
  type EntryKind,
  field,
  HEADER_ONLY,
  isZero,
  KINDS,
  longName,
  malformed,
  type Overrides,
  overridesFromPax,
  parseNumber,
  parsePax,
  text,
} from "./tar_fields.ts";

export { BLOCK, type EntryKind } from "./tar_fields.ts";

/** Largest pax or GNU long-name body accepted. */
export const MAX_META_BYTES = 1 << 20;
/**
 * Most zero bytes accepted after the end-of-archive marker. GNU tar pads to a record (10 KiB by default,
 * `-b 2048` gives 1 MiB); more is no archive anyone writes.
 */
export const MAX_TRAILING_BYTES = 1 << 20;

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
