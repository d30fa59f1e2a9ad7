/**
 * Every answer read from the network is bounded three ways, by one mechanism (used by the installer's
 * fetches, the agent's find and report, the tools' find and the admin client):
 *   - an idle timer: no byte for `idleMs` gives the request up;
 *   - a total deadline, sized to what is fetched: a mirror that drips one byte every few seconds keeps the
 *     idle timer happy but not this one;
 *   - a size cap, checked against Content-Length and again while the body streams: an endless answer stops
 *     at the cap instead of filling memory.
 * The errors say which of them stopped it ("timed out after 10 s", "answer larger than 1 MiB"), never "not
 * JSON" for a body that was cut short.
 */
import { isUpkeepError, UpkeepError } from "../errors.ts";
import { networkWhy } from "./net_error.ts";

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** How long a request may go without receiving a byte before it is given up (E_NETWORK). */
export const DEFAULT_IDLE_MS = 60_000;

/** The slowest artifact download accepted, beyond ARTIFACT_BASE_MS: 64 KiB/s. */
export const MIN_RATE_BYTES_PER_S = 64 * KIB;
/** What every artifact download gets beyond its size at the minimum rate (connections, retries). */
export const ARTIFACT_BASE_MS = 30_000;

/** Total deadlines of the small fetches. */
export const SIGNATURE_DEADLINE_MS = 10_000;
export const MANIFEST_DEADLINE_MS = 30_000;

/** Caps of the JSON answers: the find answer (a few hundred bytes), the admin API's answers. */
export const MAX_FIND_ANSWER_BYTES = MIB;
export const MAX_API_ANSWER_BYTES = 16 * MIB;

/** The whole download of an artifact of `size` bytes: 30 s plus its size at 64 KiB/s. */
export function artifactDeadlineMs(size: number): number {
  return ARTIFACT_BASE_MS + Math.ceil((Math.max(0, size) / MIN_RATE_BYTES_PER_S) * 1000);
}

/** `1 MiB`, `16 KiB`, `1500 bytes`. */
export function formatBytes(n: number): string {
  if (n >= MIB && n % MIB === 0) return `${n / MIB} MiB`;
  if (n >= KIB && n % KIB === 0) return `${n / KIB} KiB`;
  if (n >= MIB) return `${(n / MIB).toFixed(1)} MiB`;
  return `${n} bytes`;
}

function seconds(ms: number): string {
  return ms >= 10_000 || ms % 1000 === 0 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export interface WatchdogOptions {
  /** No byte for this long gives the request up (default 60 s; 0: no idle timer). */
  idleMs?: number;
  /** The request, body included, is given up after this long. */
  totalMs?: number;
  /**
   * Or earlier, at this `performance.now()` time: a deadline shared by several requests (the tries of one
   * download); `totalMs` is then its whole length, for the message.
   */
  deadlineAt?: number;
  /** How the deadline was sized, for the message: "30 s plus 4 MiB at 64 KiB/s". */
  deadlineNote?: string;
  /** The caller's cancel signal. */
  signal?: AbortSignal;
  /** The error when the caller's signal stops the request (default E_CANCELLED "... cancelled"). */
  onCancel?: () => UpkeepError;
}

/**
 * One request's timers and the caller's signal behind one AbortSignal (for fetch and the body reads);
 * `kick()` on every byte received. `error()` says which of them stopped it.
 */
export class Watchdog {
  readonly #ac = new AbortController();
  readonly #idleMs: number;
  #totalMs: number | undefined;
  readonly #note: string | undefined;
  readonly #outer: AbortSignal | undefined;
  readonly #onCancel: (() => UpkeepError) | undefined;
  readonly #onOuter = () => this.#ac.abort();
  #idle: ReturnType<typeof setTimeout> | undefined;
  #total: ReturnType<typeof setTimeout> | undefined;
  /** Which timer stopped the request. */
  timedOut: "idle" | "total" | undefined;

  constructor(o: WatchdogOptions = {}) {
    this.#idleMs = o.idleMs ?? DEFAULT_IDLE_MS;
    this.#note = o.deadlineNote;
    this.#outer = o.signal;
    this.#onCancel = o.onCancel;
    if (o.signal?.aborted) this.#ac.abort();
    else o.signal?.addEventListener("abort", this.#onOuter, { once: true });
    this.#totalMs = o.totalMs;
    let left = o.totalMs;
    if (o.deadlineAt !== undefined) {
      // A shared deadline: what is left of it (the message still names the whole of it, `totalMs`).
      const untilDeadline = Math.max(0, o.deadlineAt - performance.now());
      left = left === undefined ? untilDeadline : Math.min(left, untilDeadline);
    }
    if (left !== undefined) this.#total = setTimeout(() => this.#stop("total"), left);
    this.kick();
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  #stop(why: "idle" | "total"): void {
    if (this.#ac.signal.aborted) return;
    this.timedOut = why;
    this.#ac.abort();
  }

  /**
   * Starts a total deadline now (for a request whose first part has none: an upload's answer is read
   * within `ms` once the upload is done).
   */
  limit(ms: number): void {
    clearTimeout(this.#total);
    this.#totalMs = ms;
    this.#total = setTimeout(() => this.#stop("total"), ms);
  }

  /** A byte arrived: the idle timer starts again (the total deadline does not). */
  kick(): void {
    if (this.#idleMs <= 0) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#stop("idle"), this.#idleMs);
  }

  dispose(): void {
    clearTimeout(this.#idle);
    clearTimeout(this.#total);
    this.#outer?.removeEventListener("abort", this.#onOuter);
  }

  /** The caller cancelled (its signal), as opposed to a timer or a network failure. */
  get cancelled(): boolean {
    return this.#outer?.aborted === true && this.timedOut === undefined;
  }

  /** Why the request failed, in a few words: "timed out after 10 s", "connection refused". */
  why(e: unknown): string {
    if (this.timedOut === "total") {
      return `timed out after ${seconds(this.#totalMs ?? 0)}${this.#note ? ` (${this.#note})` : ""}`;
    }
    if (this.timedOut === "idle") return `timed out: no data for ${seconds(this.#idleMs)}`;
    return networkWhy(e);
  }

  /** The error for `e` thrown by fetch or a body read: cancelled, timed out, or a network failure. */
  error(url: string, e: unknown): UpkeepError {
    if (isUpkeepError(e)) return e;
    if (this.cancelled) return this.#onCancel?.() ?? new UpkeepError("E_CANCELLED", `${url}: cancelled`);
    if (this.timedOut) return new UpkeepError("E_NETWORK", `${url}: ${this.why(e)}`, { cause: e });
    return new UpkeepError("E_NETWORK", `cannot fetch ${url}: ${this.why(e)}`, { cause: e });
  }
}

export interface ReadCappedOptions {
  url: string;
  /** At most this many bytes (after any Content-Encoding is decoded). */
  max: number;
  watchdog: Watchdog;
  /** The error past the cap (the caller picks the code and words); `max` is formatted ("1 MiB"). */
  tooLarge: (max: string) => UpkeepError;
}

/**
 * Reads a response body whole, refusing more than `max` bytes before (Content-Length) or while reading, kicking
 * the watchdog on every chunk. A read stopped by a timer or the network throws `watchdog.error()`.
 */
export async function readCapped(res: Response, o: ReadCappedOptions): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  const encoded = (res.headers.get("content-encoding") ?? "identity") !== "identity";
  if (!encoded && declared > o.max) {
    await res.body?.cancel().catch(() => {});
    throw o.tooLarge(formatBytes(o.max));
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      o.watchdog.kick();
      n += value.length;
      if (n > o.max) throw o.tooLarge(formatBytes(o.max));
      chunks.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw o.watchdog.error(o.url, e);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads at most `max` bytes of a body as text (an error page's first line), then drops the rest. */
export async function readPrefix(res: Response, max: number, watchdog: Watchdog): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const dec = new TextDecoder();
  let text = "";
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) return text;
      watchdog.kick();
      text += dec.decode(value, { stream: true });
    }
  } catch {
    return text;
  }
  await reader.cancel().catch(() => {});
  return text.slice(0, max);
}
