/**
 * Safe, streaming extraction of a release `.tar.gz` (DESIGN §6).
 *
 * Library choice: neither npm tarball library, but a small strict reader of our own (core/install/tar.ts,
 * pure) over the runtime's streaming gunzip (DecompressionStream, zlib underneath), with every entry decided
 * by core/install/extract_policy.ts before a byte of it is written.
 * - node-tar (`tar`) extracts by itself and "sanitizes" rather than refuses: it strips a leading `/` and
 *   carries on, skips `..` entries and device entries with a warning, does not look at where a symlink
 *   points, and its file-system layer has had a run of path-traversal CVEs (2021-32803/32804/37701/37712/
 *   37713, 2024-28863). We want the opposite: stop the install with a code naming the entry.
 * - modern-tar's streaming decoder does hand over each header before its data, but folds every unknown
 *   typeflag (GNU sparse `S`, volume headers...) into "file", silently drops malformed pax numbers (falling
 *   back to the ustar size: a parser differential), skips bad header blocks unless strict, and cuts GNU long
 *   names at a NUL without a word. Its per-entry web-stream bodies also cost a copy per chunk.
 * - The reader here is ~300 lines, refuses all of that, passes file data through as views of the gunzip
 *   output (no copy), and has no dependency. Memory is flat: at most one gunzip chunk (<= 512 KiB) and one
 *   pax body (<= 1 MiB) at a time.
 *
 * Writes: folders 0755, files created with O_EXCL|O_NOFOLLOW (never through or over a link) and chmod-ed
 * to their archived permission bits less group/other write, each fsync-ed before close; no owner or time
 * is restored. A gzip bomb stops at the cap: the decompressed stream is counted as it comes.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import {
  DEFAULT_EXTRACT_LIMITS,
  type ExtractAction,
  type ExtractLimits,
  ExtractPolicy,
  fileMode,
  printable,
  unsafe,
} from "../../install/extract_policy.ts";
import { BLOCK, MAX_META_BYTES, type TarEntry, TarReader } from "../../install/tar.ts";
import { errorCodeOf, ioError } from "../io_error.ts";

export type { ExtractLimits };
export { DEFAULT_EXTRACT_LIMITS };

export interface ExtractOptions {
  /** fsync every file and folder written (default true). */
  fsync?: boolean;
  signal?: AbortSignal;
  /** Called after each entry's header was admitted (crash-safety tests stop here). */
  onEntry?: (index: number) => void;
  /**
   * The decompressed size the signed manifest gives (`unpacked_size`): a stream that decompresses to more
   * is refused (E_MALFORMED), so the free-space check made from it holds.
   */
  unpackedSize?: number;
}

/** Bytes between two garbage collections (each gunzip chunk is a fresh buffer): keeps memory flat. */
const GC_EVERY = 16 * 1024 * 1024;

const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Extracts `file` (gzip-compressed tar) into `destDir`, which must not exist or be empty. Throws
 * E_UNSAFE_ARCHIVE naming the first refused entry, E_MALFORMED for a broken archive, E_IO for the file
 * system. On any error what was written under destDir is left for the caller to remove (it is a temp
 * folder); nothing is ever written outside it.
 */
export async function extractTarGz(
  file: string,
  destDir: string,
  limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS,
  opts: ExtractOptions = {},
): Promise<{ files: number; bytes: number }> {
  const durable = opts.fsync ?? true;
  try {
    makeDir(destDir, true);
  } catch (e) {
    throw ioError("create", destDir, e);
  }
  if (readdirSync(destDir).length > 0) throw new UpkeepError("E_IO", `${destDir} is not empty`);
  const policy = new ExtractPolicy(limits);
  const sink = new DiskSink(destDir, policy, durable, opts.onEntry);
  const it = gunzipFile(file).getReader();
  try {
    const next = async () => {
      const r = await it.read();
      return r.done ? undefined : r.value;
    };
    await pump(next, new TarReader(sink), sink, file, limits, opts);
    if (durable) for (const d of sink.dirs) fsyncDir(d);
  } catch (e) {
    throw mapError(e, file);
  } finally {
    sink.close();
    await it.cancel().catch(() => {});
  }
  return { files: policy.files, bytes: policy.bytes };
}

/** Feeds the decompressed stream to the tar reader, within the caps, to its very end. */
async function pump(
  next: () => Promise<Uint8Array | undefined>,
  reader: TarReader,
  sink: DiskSink,
  file: string,
  limits: ExtractLimits,
  opts: ExtractOptions,
): Promise<void> {
  // The whole decompressed stream is capped: file data, plus headers and padding for every entry allowed.
  const streamCap = limits.maxBytes + (limits.maxFiles + 2) * (3 * BLOCK) + 2 * MAX_META_BYTES;
  let streamed = 0;
  let sinceGc = 0;
  for (;;) {
    if (opts.signal?.aborted) throw cancelled();
    const value = await next();
    if (value === undefined) break;
    streamed += value.length;
    if (streamed > streamCap) {
      throw unsafe(
        sink.current?.path ?? "(archive)",
        `the archive decompresses to more than ${streamCap} bytes (cap ${limits.maxBytes} bytes of files)`,
      );
    }
    if (opts.unpackedSize !== undefined && streamed > opts.unpackedSize) {
      throw new UpkeepError(
        "E_MALFORMED",
        `archive ${file}: decompresses to more than the ${opts.unpackedSize} bytes (unpacked_size) the manifest says`,
      );
    }
    // Read to the end even after the end-of-archive marker: what follows must be zero padding (an extra
    // gzip member or trailing data is refused), and the gzip stream must end cleanly.
    reader.write(value);
    sinceGc += value.length;
    if (sinceGc >= GC_EVERY) {
      sinceGc = 0;
      Bun.gc(true);
    }
  }
  reader.end();
}

/** Writes what the tar reader admits (by the policy) under destDir: folders, links, files with their modes. */
class DiskSink {
  fd = -1;
  current: TarEntry | undefined;
  written = 0;
  /** Every folder made, fsync-ed at the end. */
  readonly dirs: string[];

  constructor(
    private readonly destDir: string,
    private readonly policy: ExtractPolicy,
    private readonly durable: boolean,
    private readonly onEntry: ((index: number) => void) | undefined,
  ) {
    this.dirs = [destDir];
  }

  entry(e: TarEntry): void {
    const action: ExtractAction = this.policy.admit(e);
    this.onEntry?.(e.index);
    if (action.kind === "skip") return;
    for (const d of action.mkdirs) mkdir(join(this.destDir, d), this.dirs);
    const target = join(this.destDir, action.path);
    try {
      switch (action.kind) {
        case "directory":
          mkdir(target, this.dirs);
          return;
        case "symlink":
          symlinkSync(action.target, target);
          return;
        case "hardlink":
          linkSync(join(this.destDir, action.target), target);
          return;
        case "file":
          this.fd = openSync(target, OPEN_FLAGS, 0o600);
          this.current = e;
          this.written = 0;
          return;
      }
    } catch (err) {
      throw ioError("create", `${target} (entry "${printable(e.path)}")`, err);
    }
  }

  data(chunk: Uint8Array): void {
    if (this.fd < 0) return; // data of a skipped entry (a duplicate folder cannot have any: refused by the reader)
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    this.written += chunk.length;
  }

  end(e: TarEntry): void {
    if (this.fd < 0 || this.current !== e) return;
    const f = this.fd;
    this.fd = -1;
    this.current = undefined;
    try {
      if (this.written !== e.size)
        throw new UpkeepError("E_INTERNAL", `wrote ${this.written} of ${e.size} bytes`);
      fchmodSync(f, fileMode(e.mode));
      // An empty file has no data to flush; its name is made durable by the folder's fsync.
      if (this.durable && e.size > 0) fsyncSync(f);
    } finally {
      closeSync(f);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
  }
}

/**
 * The decompressed size of a gzip file (every member), streamed: what `release manifest` signs as an
 * artifact's `unpacked_size`. E_MALFORMED when it is not a valid gzip stream.
 */
export async function gunzippedSize(file: string): Promise<number> {
  let n = 0;
  let sinceGc = 0;
  const it = gunzipFile(file).getReader();
  try {
    for (;;) {
      const { done, value } = await it.read();
      if (done) break;
      n += value.length;
      sinceGc += value.length;
      if (sinceGc >= GC_EVERY) {
        sinceGc = 0;
        Bun.gc(true);
      }
    }
  } catch (e) {
    throw mapError(e, file);
  } finally {
    await it.cancel().catch(() => {});
  }
  return n;
}

/** Read size: small reads into fresh buffers keep what the decompressor holds small. */
const READ_CHUNK = 128 * 1024;

/** The decompressed bytes of `file`, pulled on demand (one read in flight, no read-ahead). */
function gunzipFile(file: string): ReadableStream<Uint8Array> {
  let fd = -1;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>(
    {
      start() {
        fd = openSync(file, constants.O_RDONLY);
      },
      pull(controller) {
        const buf = new Uint8Array(new ArrayBuffer(READ_CHUNK));
        const n = readSync(fd, buf, 0, READ_CHUNK, null);
        if (n === 0) {
          closeSync(fd);
          fd = -1;
          controller.close();
        } else controller.enqueue(buf.subarray(0, n));
      },
      cancel() {
        if (fd >= 0) closeSync(fd);
        fd = -1;
      },
    },
    { highWaterMark: 0 },
  );
  return source.pipeThrough(new DecompressionStream("gzip"));
}

/**
 * mkdir whose folders really get `mode` (0755): `mkdirSync`'s mode is reduced by the umask (027 gives 0750
 * root:root, which a daemon running as another user cannot traverse), so every folder it creates is
 * chmod-ed, as files are. With `recursive`, folders that already existed are left as they are.
 */
export function makeDir(path: string, recursive = false, mode = 0o755): void {
  const first = mkdirSync(path, { recursive, mode });
  if (!recursive) {
    chmodSync(path, mode);
    return;
  }
  if (first === undefined) return;
  const top = resolve(first);
  const created = [resolve(path)];
  for (let p = created[0] as string; p !== top && dirname(p) !== p; p = dirname(p)) created.push(dirname(p));
  for (const c of created.reverse()) chmodSync(c, mode);
}

function mkdir(path: string, dirs: string[]): void {
  try {
    makeDir(path);
  } catch (e) {
    throw ioError("create", path, e);
  }
  dirs.push(path);
}

export function fsyncDir(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on folders; the data is still flushed by the file fsyncs.
  } finally {
    closeSync(fd);
  }
}

export function cancelled(): UpkeepError {
  return new UpkeepError("E_CANCELLED", "the install was cancelled");
}

function mapError(e: unknown, file: string): UpkeepError {
  if (isUpkeepError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = errorCodeOf(e);
  if (code !== undefined && /^E[A-Z]+$/.test(code)) return ioError("extract", file, e);
  // zlib's errors (bad header, bad CRC, truncated stream) come without a file-system code.
  return new UpkeepError("E_MALFORMED", `archive ${file}: not a valid gzip stream (${msg})`, { cause: e });
}
