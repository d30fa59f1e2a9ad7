/**
 * Dashboard sessions, in memory. Logging in with an admin or viewer token makes a session: a random id
 * (32 bytes) in an HttpOnly, SameSite=Strict cookie (Secure over TLS), never the token. The server keeps,
 * per session, the kind and the sha256 of the token it was opened with (so revoking the token ends it), a
 * CSRF token, and when it was made and last used; it is looked up by the sha256 of the id.
 *
 * A session ends at logout, after SESSION_IDLE_MS without a request, SESSION_MAX_MS after login, when its
 * token is revoked, and when the server restarts (sessions are not stored: everyone logs in again). Several
 * replicas would each have their own sessions: a shared session table in the store would be needed then.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";

export type SessionKind = "admin" | "viewer";

export interface Session {
  kind: SessionKind;
  /** sha256 hex of the token the session was opened with (checked against the store on every request). */
  tokenHash: string;
  csrf: string;
  created: number;
  seen: number;
  /** One message for the next page (the result of a form posted without scripts). */
  flash?: { ok: boolean; text: string };
}

export const SESSION_COOKIE = "upkeep_session";
/** A session not used for an hour ends (an open page polls every few seconds, so it stays). */
export const SESSION_IDLE_MS = 60 * 60_000;
/** A session ends 12 hours after login, used or not. */
export const SESSION_MAX_MS = 12 * 3_600_000;
/** The most sessions kept; the least recently used goes first. */
export const MAX_SESSIONS = 10_000;

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

export class Sessions {
  /** By sha256 of the id; Map order is least recently used first. */
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(now: () => number, max = MAX_SESSIONS) {
    this.#now = now;
    this.#max = max;
  }

  /** A new session; answers its id (for the cookie only). */
  create(kind: SessionKind, tokenHash: string): { id: string; session: Session } {
    this.#sweep();
    while (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString("base64url");
    const now = this.#now();
    const session: Session = {
      kind,
      tokenHash,
      csrf: randomBytes(32).toString("base64url"),
      created: now,
      seen: now,
    };
    this.#sessions.set(sha256(id), session);
    return { id, session };
  }

  /** The live session of a cookie value (and marks it used), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const key = sha256(id);
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    const now = this.#now();
    if (now - s.seen > SESSION_IDLE_MS || now - s.created > SESSION_MAX_MS) {
      this.#sessions.delete(key);
      return undefined;
    }
    s.seen = now;
    this.#sessions.delete(key);
    this.#sessions.set(key, s);
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.#sessions.delete(sha256(id));
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Drops expired sessions (oldest first, stops at the first live one). */
  #sweep(): void {
    const now = this.#now();
    for (const [key, s] of this.#sessions) {
      if (now - s.seen <= SESSION_IDLE_MS && now - s.created <= SESSION_MAX_MS) break;
      this.#sessions.delete(key);
    }
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
