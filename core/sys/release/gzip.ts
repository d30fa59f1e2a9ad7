/**
 * Streams chunks (tar blocks and file data) through gzip into a file, with backpressure, in flat memory.
 * Shared by `upkeep release pack` and scripts/fake-release.ts.
 *
 * The gzip header is made reproducible: no name, mtime 0 (zlib's defaults) and the OS byte set to 3 (Unix)
 * whatever zlib wrote, so the same tar stream gives the same bytes on Linux and macOS. The input is cut into
 * fixed 1 MiB blocks before zlib sees it (zlib's output depends on how its input is split): the same bytes
 * give the same archive however they were read, which is what lets a host rebuild an artifact from a patch
 * of its decompressed bytes (core/sys/delta/apply.ts) and get the signed bytes back.
 */
import { createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGzip } from "node:zlib";

export type Chunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** gzip header byte 9: the operating system that wrote it; 3 is Unix. */
const OS_BYTE = 9;
const OS_UNIX = 3;

export interface GzipOptions {
  /** zlib level, 0..9 (default 6). */
  level?: number;
  /** The new file's mode (default 0o644, less the umask). */
  mode?: number;
  /** Refuse to replace an existing file (EEXIST). */
  exclusive?: boolean;
}

/** zlib's input block: every block but the last is exactly this long. */
const BLOCK = 1 << 20;

/** The same bytes in fixed BLOCK-sized pieces (fresh buffers: zlib may hold on to one). */
async function* blocks(chunks: Chunks): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(BLOCK);
  let n = 0;
  for await (const c of chunks) {
    let off = 0;
    while (off < c.length) {
      const k = Math.min(BLOCK - n, c.length - off);
      buf.set(c.subarray(off, off + k), n);
      n += k;
      off += k;
      if (n === BLOCK) {
        yield buf;
        buf = new Uint8Array(BLOCK);
        n = 0;
      }
    }
  }
  if (n > 0) yield buf.subarray(0, n);
}

export async function writeGzip(path: string, chunks: Chunks, o: GzipOptions = {}): Promise<void> {
  const gz = createGzip({ level: o.level ?? 6, chunkSize: 1 << 20 });
  const out = createWriteStream(path, { mode: o.mode ?? 0o644, flags: o.exclusive ? "wx" : "w" });
  // Opened before the first write: a file that cannot be created fails here, not in the middle of a pipe.
  await new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", reject);
  });
  const done = new Promise<void>((resolve, reject) => {
    out.on("finish", () => resolve());
    out.on("error", reject);
    gz.on("error", reject);
  });
  gz.pipe(out);
  try {
    for await (const c of blocks(chunks)) {
      if (!gz.write(c)) await new Promise<void>((r) => gz.once("drain", () => r()));
    }
  } catch (e) {
    gz.destroy();
    out.destroy();
    // The caller removes the partial file; wait until the stream let go of it.
    await new Promise<void>((r) => (out.closed ? r() : out.once("close", () => r())));
    throw e;
  }
  gz.end();
  await done;
  const fh = await open(path, "r+");
  try {
    const head = new Uint8Array(10);
    await fh.read(head, 0, 10, 0);
    if (head[0] === 0x1f && head[1] === 0x8b && head[OS_BYTE] !== OS_UNIX) {
      await fh.write(new Uint8Array([OS_UNIX]), 0, 1, OS_BYTE);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}
