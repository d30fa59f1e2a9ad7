/**
 * The artifact download (GETs and small capped fetches: http_get.ts): to a `.part` file beside the versions,
 * hashed (SHA-256 and BLAKE2b-512, what the trust library checks) while it is written, resumed with a
 * Range request after an interruption (the bytes already there are hashed first), capped at the size the
 * manifest gives, and given up at a total deadline sized to it (bounded_http.ts).
 */
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import type { FileDigests } from "../../trust/verify_release.ts";
import {
  ARTIFACT_BASE_MS,
  artifactDeadlineMs,
  DEFAULT_IDLE_MS,
  formatBytes,
  MIN_RATE_BYTES_PER_S,
  Watchdog,
} from "../bounded_http.ts";
import { hasher } from "../hash.ts";
import { ioError } from "../io_error.ts";
import type { StreamingHash } from "../sodium.ts";
import { cancelled } from "./extract.ts";
import { httpGet, statusError } from "./http_get.ts";

export { fetchCapped, type GetOptions, httpGet } from "./http_get.ts";
export { DEFAULT_IDLE_MS, Watchdog };

class Digests {
  #sha = new Bun.CryptoHasher("sha256");
  #b2: StreamingHash = hasher("blake2b512");
  size = 0;
  reset(): void {
    this.#sha = new Bun.CryptoHasher("sha256");
    this.#b2 = hasher("blake2b512");
    this.size = 0;
  }
  update(chunk: Uint8Array): void {
    this.#sha.update(chunk);
    this.#b2.update(chunk);
    this.size += chunk.length;
  }
  finish(): FileDigests {
    return { size: this.size, sha256: this.#sha.digest("hex"), blake2b512: this.#b2.digest() };
  }
}

export interface DownloadOptions {
  url: string;
  /** The `.part` file. */
  path: string;
  /** The manifest's size: the download stops with E_SIZE past it. */
  size: number;
  insecure: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { received: number; total: number }) => void;
  /** Give a request up after this long without a byte (default 60 s). */
  idleMs?: number;
  /**
   * The whole download, every try included, is given up after this long (E_NETWORK "timed out"; the
   * `.part` is kept for the next run). Default: artifactDeadlineMs(size), 30 s plus the size at 64 KiB/s.
   */
  deadlineMs?: number;
  /** Tries, resuming each time (default 3). */
  attempts?: number;
  /** Called after the first chunk of a try is on disk (crash-safety tests stop here). */
  onFirstChunk?: () => void;
}

export interface Downloaded extends FileDigests {
  /** Identifies the file the digests were taken of (see sameFile). */
  ino: number;
  mtimeMs: number;
  /** Requests made and whether each asked for a Range. */
  requests: { range: boolean }[];
}

/** Whether `path` is still the very file `d`'s digests were taken of (same inode, size and mtime). */
export function sameFile(path: string, d: Downloaded): boolean {
  try {
    const st = statSync(path);
    return st.ino === d.ino && st.size === d.size && st.mtimeMs === d.mtimeMs;
  } catch {
    return false;
  }
}

const HASH_CHUNK = 1 << 20;
/** Bytes between two garbage collections while streaming. */
export const GC_EVERY = 16 * 1024 * 1024;

/** Hashes what a `.part` already holds (at most `size` bytes; more means it is not ours: start over). */
function resumeFrom(fd: number, size: number, d: Digests): void {
  const have = fstatSync(fd).size;
  if (have > size) {
    ftruncateSync(fd, 0);
    return;
  }
  const buf = new Uint8Array(HASH_CHUNK);
  let pos = 0;
  while (pos < have) {
    const n = readSync(fd, buf, 0, Math.min(HASH_CHUNK, have - pos), pos);
    if (n === 0) break;
    d.update(buf.subarray(0, n));
    pos += n;
  }
}

/**
 * Downloads `url` into `path` (appending to what a previous try left), hashing as it writes. Keeps the
 * `.part` on network errors (for the next try, or the next run); removes it on cancel and on E_SIZE.
 */
export async function downloadArtifact(o: DownloadOptions): Promise<Downloaded> {
  const attempts = o.attempts ?? 3;
  const requests: { range: boolean }[] = [];
  let fd: number;
  try {
    fd = openSync(
      o.path,
      constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (e) {
    throw ioError("write", o.path, e);
  }
  const d = new Digests();
  let removePart = false;
  const deadline = deadlineOf(o);
  try {
    resumeFrom(fd, o.size, d);
    for (let attempt = 1; ; attempt++) {
      try {
        await oneTry(o, fd, d, requests, deadline, () => {
          d.reset();
          ftruncateSync(fd, 0);
        });
        break;
      } catch (e) {
        if (isUpkeepError(e) && (e.code === "E_CANCELLED" || e.code === "E_SIZE")) {
          removePart = true;
          throw e;
        }
        const retriable = isUpkeepError(e) && e.code === "E_NETWORK";
        if (!retriable || attempt >= attempts || deadline.over || performance.now() >= deadline.at) throw e;
        await Bun.sleep(Math.min(100 * attempt, Math.max(0, deadline.at - performance.now())));
      }
    }
    const st = fstatSync(fd);
    return { ...d.finish(), ino: st.ino, mtimeMs: st.mtimeMs, requests };
  } finally {
    closeSync(fd);
    if (removePart) {
      try {
        unlinkSync(o.path);
      } catch {
        // already gone
      }
    }
  }
}

interface Deadline {
  /** performance.now() time at which the download is given up. */
  at: number;
  ms: number;
  note: string;
  /** Its timer fired (timers may fire a little before `at`). */
  over: boolean;
}

function deadlineOf(o: DownloadOptions): Deadline {
  const ms = o.deadlineMs ?? artifactDeadlineMs(o.size);
  const note =
    o.deadlineMs === undefined
      ? `${ARTIFACT_BASE_MS / 1000} s plus ${formatBytes(o.size)} at the minimum rate of ${formatBytes(MIN_RATE_BYTES_PER_S)}/s`
      : "";
  return { at: performance.now() + ms, ms, note, over: false };
}

async function oneTry(
  o: DownloadOptions,
  fd: number,
  d: Digests,
  requests: { range: boolean }[],
  deadline: Deadline,
  restart: () => void,
): Promise<void> {
  if (o.signal?.aborted) throw cancelled();
  const have = d.size;
  if (have === o.size) return;
  const range = have > 0;
  requests.push({ range });
  const watchdog = new Watchdog({
    idleMs: o.idleMs ?? DEFAULT_IDLE_MS,
    totalMs: deadline.ms,
    deadlineAt: deadline.at,
    ...(deadline.note ? { deadlineNote: deadline.note } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onCancel: cancelled,
  });
  try {
    await tryWith(o, fd, d, restart, range, watchdog);
  } finally {
    if (watchdog.timedOut === "total") deadline.over = true;
    watchdog.dispose();
  }
}

async function tryWith(
  o: DownloadOptions,
  fd: number,
  d: Digests,
  restart: () => void,
  range: boolean,
  watchdog: Watchdog,
): Promise<void> {
  const have = d.size;
  const res = await httpGet(o.url, {
    insecure: o.insecure,
    watchdog,
    headers: range ? { range: `bytes=${have}-` } : {},
    raw: true,
  });
  await checkAnswer(o, res, have, range, restart);
  const reader = res.body?.getReader();
  if (!reader) throw new UpkeepError("E_NETWORK", `${o.url}: empty response`);
  try {
    await writeBody(o, fd, d, reader, watchdog);
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (isUpkeepError(e) && (e.code === "E_SIZE" || e.code === "E_CANCELLED" || e.code === "E_NETWORK"))
      throw e;
    throw ioError("write", o.path, e);
  }
  if (d.size !== o.size) {
    throw new UpkeepError("E_NETWORK", `${o.url}: the connection ended after ${d.size} of ${o.size} bytes`);
  }
}

/**
 * The answer must be the rest asked for (206 from `have`), or the whole file (200: what a previous try left is
 * dropped), and no larger than the manifest says; a server that will not resume starts the file over.
 */
async function checkAnswer(
  o: DownloadOptions,
  res: Response,
  have: number,
  range: boolean,
  restart: () => void,
): Promise<void> {
  const drop = () => res.body?.cancel().catch(() => {});
  let start = 0;
  if (res.status === 206 && range) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (!m || Number(m[1]) !== have) {
      await drop();
      restart();
      throw new UpkeepError(
        "E_NETWORK",
        `${o.url}: the server answered another range than asked; starting over`,
      );
    }
    start = have;
  } else if (res.status === 416 && range) {
    await drop();
    restart();
    throw new UpkeepError("E_NETWORK", `${o.url}: the server refused to resume; starting over`);
  } else if (res.status !== 200) {
    await drop();
    throw statusError(o.url, res);
  } else if (have > 0) {
    restart(); // the server ignored the Range header: the whole file follows
  }
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > o.size - start) {
    await drop();
    throw new UpkeepError("E_SIZE", `${o.url} is ${declared + start} bytes; the manifest says ${o.size}`);
  }
}

/** Streams the body into the `.part`, hashing as it writes, within the manifest's size. */
async function writeBody(
  o: DownloadOptions,
  fd: number,
  d: Digests,
  reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> },
  watchdog: Watchdog,
): Promise<void> {
  let first = true;
  let sinceGc = 0;
  for (;;) {
    let r: Awaited<ReturnType<typeof reader.read>>;
    try {
      r = await reader.read();
    } catch (e) {
      throw watchdog.error(o.url, e);
    }
    const chunk = r.value;
    if (r.done || chunk === undefined) break;
    watchdog.kick();
    if (d.size + chunk.length > o.size) {
      throw new UpkeepError("E_SIZE", `${o.url} is larger than the ${o.size} bytes the manifest says`);
    }
    let off = 0;
    while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    d.update(chunk);
    if (first) {
      first = false;
      o.onFirstChunk?.();
    }
    o.onProgress?.({ received: d.size, total: o.size });
    sinceGc += chunk.length;
    if (sinceGc >= GC_EVERY) {
      // Each chunk is a fresh buffer; collecting now and then keeps the peak memory flat.
      sinceGc = 0;
      Bun.gc(true);
    }
    if (o.signal?.aborted) throw cancelled();
  }
}
