/**
 * Dashboard sessions, kept in the store (Store.addSession and the rest: the `sessions` table), so that
 * every `serve` replica on one database knows every session: log in on one, use it on another, log out
 * anywhere. Logging in with an admin or viewer token makes a session: a random id (32 bytes) in an
 * HttpOnly, SameSite=Strict cookie (Secure over TLS), never the token. The store keeps, by the sha256 of the
 * id (never the id), the kind, the id of the token it was opened with (removing that token ends it), a CSRF
 * token, when it was made and last used, and when it ends.
 *
 * A session ends at logout, after SESSION_IDLE_MS without a request, SESSION_MAX_MS after login, and when
 * its token is removed. Its use is written at most once every TOUCH_MS (an open page polls every few
 * seconds: no write per request), so the idle limit counts from a last use up to a minute old. Ended
 * sessions are deleted at each login (the only thing that adds rows), with the least recently used past
 * MAX_SESSIONS.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { type SessionRecord, type Store, StoreUnavailableError } from "../store.ts";

export type SessionKind = "admin" | "viewer";

export interface Session {
  /** sha256 hex of the session id: its key in the store. */
  idHash: string;
  kind: SessionKind;
  /** The id of the token the session was opened with. */
  tokenId: string;
  csrf: string;
  created: number;
  /** Its last use as stored (up to TOUCH_MS behind the last request). */
  seen: number;
  /** When it ends unless used again. */
  expires: number;
  /** One message for the next page (the result of a form posted without scripts). */
  flash?: { ok: boolean; text: string };
}

export const SESSION_COOKIE = "upkeep_session";
/** A session not used for an hour ends (an open page polls every few seconds, so it stays). */
export const SESSION_IDLE_MS = 60 * 60_000;
/** A session ends 12 hours after login, used or not. */
export const SESSION_MAX_MS = 12 * 3_600_000;
/** The most sessions kept; past it, the least recently used go first. */
export const MAX_SESSIONS = 10_000;
/** A session's use is written at most this often. */
export const TOUCH_MS = 60_000;

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const iso = (ms: number) => new Date(ms).toISOString();

/** When a session made at `created` and last used at `seen` ends (idle limit, capped by the maximum age). */
export function sessionEnd(created: number, seen: number): number {
  return Math.min(created + SESSION_MAX_MS, seen + SESSION_IDLE_MS);
}

function fromRecord(r: SessionRecord): Session {
  return {
    idHash: r.idHash,
    kind: r.kind,
    tokenId: r.tokenId,
    csrf: r.csrf,
    created: Date.parse(r.created),
    seen: Date.parse(r.lastUsed),
    expires: Date.parse(r.expires),
    ...(r.flash ? { flash: r.flash } : {}),
  };
}

export class Sessions {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #max: number;
  /** The flash each session had when read (to write it back only when a request changed it). */
  readonly #readFlash = new WeakMap<Session, string>();

  constructor(store: Store, now: () => number, max = MAX_SESSIONS) {
    this.#store = store;
    this.#now = now;
    this.#max = max;
  }

  /** A new session (ended ones are deleted first); answers its id (for the cookie only). */
  async create(kind: SessionKind, tokenId: string): Promise<{ id: string; session: Session }> {
    const now = this.#now();
    await this.#store.pruneSessions(iso(now), Math.max(0, this.#max - 1));
    const id = randomBytes(32).toString("base64url");
    const session: Session = {
      idHash: sha256(id),
      kind,
      tokenId,
      csrf: randomBytes(32).toString("base64url"),
      created: now,
      seen: now,
      expires: sessionEnd(now, now),
    };
    await this.#store.addSession({
      idHash: session.idHash,
      tokenId,
      kind,
      csrf: session.csrf,
      created: iso(now),
      lastUsed: iso(now),
      expires: iso(session.expires),
    });
    this.#readFlash.set(session, "");
    return { id, session };
  }

  /**
   * The live session of a cookie value, or undefined (none, ended, or its token removed). Its use is
   * written when the stored one is TOUCH_MS old or more.
   */
  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id || id.length > 100) return undefined;
    const now = this.#now();
    const r = await this.#store.getSession(sha256(id), iso(now));
    if (!r) return undefined;
    const s = fromRecord(r);
    this.#readFlash.set(s, s.flash ? JSON.stringify(s.flash) : "");
    if (now - s.seen >= TOUCH_MS) {
      const expires = sessionEnd(s.created, now);
      try {
        await this.#store.touchSession(s.idHash, iso(now), iso(expires));
        s.seen = now;
        s.expires = expires;
      } catch (e) {
        // Writes refused (the database went away): the session holds until its stored end.
        if (!(e instanceof StoreUnavailableError)) throw e;
      }
    }
    return s;
  }

  /** Writes the session's flash when the request changed it (set by an action, or shown by the page). */
  async saveFlash(s: Session): Promise<void> {
    const now = s.flash ? JSON.stringify(s.flash) : "";
    if (this.#readFlash.get(s) === now) return;
    await this.#store.setSessionFlash(s.idHash, s.flash);
    this.#readFlash.set(s, now);
  }

  async end(id: string | undefined): Promise<void> {
    if (id && id.length <= 100) await this.#store.endSession(sha256(id));
  }
}

/** The CSRF token sent with a form or header is the session's; compared in constant time. */
export function csrfMatches(session: Session, given: string | undefined | null): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Seconds until the session can end at the latest (the cookie's Max-Age). */
export function cookieMaxAge(s: Session, now: number): number {
  return Math.max(0, Math.floor((s.created + SESSION_MAX_MS - now) / 1000));
}
