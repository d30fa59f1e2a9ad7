/**
 * Who is logged in: the login form (an admin or viewer token, checked once), the session cookie, logout,
 * and the checks in front of every page and action: a live session whose token is still stored (the store
 * answers only those: sessions.ts); for a POST, the same origin and the session's CSRF token; for an action,
 * an admin session. A session's message for the next page (flash) is written back after the request that
 * set or showed it, so the next page finds it whichever replica serves it.
 */
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { type Store, StoreUnavailableError } from "../store.ts";
import { hashToken, type TokenChecker } from "../tokens.ts";
import { escapeHtml } from "./html.ts";
import { loginPage } from "./render_login.ts";
import { cookieMaxAge, csrfMatches, SESSION_COOKIE, type Session, type Sessions } from "./sessions.ts";

export interface AuthDeps {
  sessions: Sessions;
  tokens: TokenChecker;
  store: Store;
  product: string;
  now: () => number;
}

const COOKIE_PATH = "/dashboard";
const isTls = (c: Context) => new URL(c.req.url).protocol === "https:";

/** The session each request read (its flash is written back after the request). */
const readSessions = new WeakMap<Request, Session>();

/** The request's live session, or undefined (no cookie, expired, logged out, or its token was revoked). */
export async function sessionOf(c: Context, d: AuthDeps): Promise<Session | undefined> {
  const s = await d.sessions.get(getCookie(c, SESSION_COOKIE));
  if (s) readSessions.set(c.req.raw, s);
  return s;
}

/** A POST from another site (its Origin or Sec-Fetch-Site says so) is refused before anything else. */
export function crossSite(c: Context): boolean {
  if (c.req.header("sec-fetch-site") === "cross-site") return true;
  const origin = c.req.header("origin");
  if (!origin || origin === "null") return origin === "null";
  try {
    return new URL(origin).host !== (c.req.header("host") ?? new URL(c.req.url).host);
  } catch {
    return true;
  }
}

export const wantsJson = (c: Context) => (c.req.header("accept") ?? "").includes("application/json");

/** Refusal of a dashboard request: JSON for the script, a page otherwise. */
export function refuse(c: Context, status: 400 | 401 | 403 | 404, error: string, product: string) {
  if (wantsJson(c)) return c.json({ ok: false, error }, status);
  if (status === 401) return c.html(loginPage(product, error).value, 401);
  return c.html(
    `<!doctype html><title>refused</title><p>${escapeHtml(error)}</p><p><a href="/dashboard">Back</a></p>`,
    status,
  );
}

/**
 * The checks of a POST that changes something: same origin, a session, its CSRF token (form field `csrf`
 * or header `x-csrf-token`), and, with `admin`, an admin session. Answers the session, or the refusal.
 */
export async function checkPost(
  c: Context,
  d: AuthDeps,
  form: Record<string, unknown>,
  admin: boolean,
): Promise<Session | Response> {
  if (crossSite(c)) return refuse(c, 403, "refused: this form was sent from another site", d.product);
  const s = await sessionOf(c, d);
  if (!s) return refuse(c, 401, "not logged in, or the session expired: log in again", d.product);
  const given = typeof form.csrf === "string" ? form.csrf : c.req.header("x-csrf-token");
  if (!csrfMatches(s, given))
    return refuse(c, 403, "refused: the form's CSRF token is missing or wrong (reload the page)", d.product);
  if (admin && s.kind !== "admin")
    return refuse(
      c,
      403,
      "this is a viewer session (read-only): log in with an admin token to act",
      d.product,
    );
  return s;
}

export function authRoutes(app: Hono, d: AuthDeps): void {
  // After every request (registered before the pages and actions): the session's flash, when changed.
  app.use(async (c, next) => {
    await next();
    const s = readSessions.get(c.req.raw);
    if (!s) return;
    try {
      await d.sessions.saveFlash(s);
    } catch (e) {
      // The database went away: the message is lost, what the request did stands.
      if (!(e instanceof StoreUnavailableError)) throw e;
    }
  });
  app.get("/login", async (c) => {
    if (await sessionOf(c, d)) return c.redirect("/dashboard", 303);
    const expired = c.req.query("expired") !== undefined;
    return c.html(loginPage(d.product, expired ? "the session ended: log in again" : undefined).value);
  });
  app.post("/login", async (c) => {
    if (crossSite(c)) return refuse(c, 403, "refused: this form was sent from another site", d.product);
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!token) return c.html(loginPage(d.product, "enter a token").value, 400);
    const kind = await d.tokens.kindOf(token);
    if (kind === undefined)
      return c.html(loginPage(d.product, "this token is not valid on this server").value, 401);
    if (kind === "agent")
      return c.html(
        loginPage(d.product, "an agent token only sends reports: log in with an admin or viewer token").value,
        403,
      );
    const hash = hashToken(token);
    const record = (await d.store.listTokens(kind)).find((t) => t.hash === hash);
    if (!record) return c.html(loginPage(d.product, "this token is not valid on this server").value, 401);
    const { id, session } = await d.sessions.create(kind, record.id);
    setCookie(c, SESSION_COOKIE, id, {
      httpOnly: true,
      sameSite: "Strict",
      secure: isTls(c),
      path: COOKIE_PATH,
      maxAge: cookieMaxAge(session, d.now()),
    });
    return c.redirect("/dashboard", 303);
  });
  app.post("/logout", async (c) => {
    const form = await c.req.parseBody();
    const s = await checkPost(c, d, form, false);
    if (s instanceof Response && s.status !== 401) return s;
    await d.sessions.end(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, {
      path: COOKIE_PATH,
      secure: isTls(c),
      httpOnly: true,
      sameSite: "Strict",
    });
    return c.redirect("/dashboard/login", 303);
  });
}
