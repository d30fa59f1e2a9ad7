/**
 * HTTP for the installer: GETs that follow redirects only to URLs checkUrl accepts, and size-capped small
 * fetches (manifest, signatures) given up at a deadline (bounded_http.ts).
 */
import { UpkeepError } from "../../errors.ts";
import { checkUrl } from "../../install/url.ts";
import { DEFAULT_IDLE_MS, readCapped, Watchdog } from "../bounded_http.ts";
import { cancelled } from "./extract.ts";

const MAX_REDIRECTS = 5;

export interface GetOptions {
  insecure: boolean;
  /** The caller's cancel signal and the stall timer, in one. */
  watchdog: Watchdog;
  headers?: Record<string, string>;
  /**
   * The body's bytes as sent, even under a `Content-Encoding` (as curl saves them). For artifacts: a
   * mirror that labels a .tar.gz `Content-Encoding: gzip` must not make us hash the inner tar.
   */
  raw?: boolean;
}

/** GET `url`, following up to 5 redirects, each checked with checkUrl (no https -> http downgrade). */
export async function httpGet(url: string, opts: GetOptions): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    checkUrl(current, opts.insecure);
    let res: Response;
    try {
      const init: RequestInit & { decompress?: boolean } = {
        redirect: "manual",
        headers: {
          "user-agent": "upkeep",
          ...(opts.raw ? { "accept-encoding": "identity" } : {}),
          ...opts.headers,
        },
        signal: opts.watchdog.signal,
        // Bun's fetch decodes Content-Encoding unless told not to.
        ...(opts.raw ? { decompress: false } : {}),
      };
      res = await fetch(current, init);
    } catch (e) {
      throw opts.watchdog.error(current, e);
    }
    opts.watchdog.kick();
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      const location = res.headers.get("location");
      await res.body?.cancel().catch(() => {});
      if (!location) throw new UpkeepError("E_NETWORK", `${current}: redirect without a location`);
      if (hop >= MAX_REDIRECTS)
        throw new UpkeepError("E_NETWORK", `${url}: more than ${MAX_REDIRECTS} redirects`);
      current = new URL(location, current).toString();
      continue;
    }
    return res;
  }
}

export function statusError(url: string, res: Response): UpkeepError {
  if (res.status === 404) return new UpkeepError("E_NOT_FOUND", `${url}: not found (HTTP 404)`);
  return new UpkeepError("E_NETWORK", `${url}: HTTP ${res.status}`);
}

/**
 * GET a small file whole, refusing more than `max` bytes (E_MALFORMED) before or while reading, and giving
 * it up after `totalMs` in all (E_NETWORK "timed out after N s") or `idleMs` without a byte.
 */
export async function fetchCapped(
  url: string,
  max: number,
  what: string,
  opts: { insecure: boolean; signal?: AbortSignal; idleMs?: number; totalMs: number },
): Promise<Uint8Array> {
  const watchdog = new Watchdog({
    idleMs: opts.idleMs ?? DEFAULT_IDLE_MS,
    totalMs: opts.totalMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onCancel: cancelled,
  });
  try {
    const res = await httpGet(url, { insecure: opts.insecure, watchdog });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw statusError(url, res);
    }
    return await readCapped(res, {
      url,
      max,
      watchdog,
      tooLarge: (m) => new UpkeepError("E_MALFORMED", `${what} ${url} is larger than ${m}`),
    });
  } finally {
    watchdog.dispose();
  }
}
