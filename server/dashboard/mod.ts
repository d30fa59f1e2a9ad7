/**
 * The web dashboard (issue 14), served by `upkeep serve` at /dashboard: the rollout and the fleet at a
 * glance, the group actions, a login that keeps a session cookie. Server-rendered HTML (html.ts), one small
 * script and one stylesheet embedded in the executable (assets/); nothing from elsewhere, so it works
 * offline. server/app.ts mounts `app` at /dashboard and puts `recordReports` in front of the report route.
 *
 * Every response carries a Content-Security-Policy that allows only this server's own script, style and
 * requests (no inline script, no other origin, no framing).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ReportHistory } from "../../core/dashboard/mod.ts";
import { parseReport } from "../../core/wire/mod.ts";
import type { AppDeps } from "../app.ts";
import { readDocument } from "../http.ts";
import { APP_CSS } from "./assets/app_css.ts";
import { APP_JS } from "./assets/app_js.ts";
import { ICON_SVG } from "./assets/icon_svg.ts";
import { authRoutes } from "./auth.ts";
import { actionRoutes, pageRoutes } from "./routes.ts";
import { Sessions } from "./sessions.ts";

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ASSETS: Record<string, { body: string; type: string; etag: string }> = Object.fromEntries(
  [
    ["app.js", APP_JS, "text/javascript; charset=utf-8"],
    ["app.css", APP_CSS, "text/css; charset=utf-8"],
    ["icon.svg", ICON_SVG, "image/svg+xml"],
  ].map(([name, body, type]) => [
    name as string,
    { body: body as string, type: type as string, etag: `"${Bun.hash(body as string).toString(36)}"` },
  ]),
);

export interface Dashboard {
  app: Hono;
  /** In front of POST /v1/agents/report: records each accepted report in the hosts' history. */
  recordReports: MiddlewareHandler;
  sessions: Sessions;
}

export function dashboard(deps: AppDeps): Dashboard {
  const now = () => deps.now().getTime();
  const sessions = new Sessions(deps.store, now);
  const history = new ReportHistory();
  let seeded = false;
  // The history starts from each agent's stored last report, read once, when first needed.
  const seededHistory = async () => {
    if (!seeded) {
      seeded = true;
      for (const a of await deps.rollout.fleetReads().all()) history.record(a, Date.parse(a.last_seen));
    }
    return history;
  };
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("content-security-policy", CSP);
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("x-frame-options", "DENY");
    c.res.headers.set("referrer-policy", "same-origin");
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });
  app.use(bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("request body too large", 413) }));
  app.get("/assets/:file", (c) => {
    const a = ASSETS[c.req.param("file")];
    if (!a) return c.text("no such asset", 404);
    const headers = { etag: a.etag, "cache-control": "no-cache" };
    if (c.req.header("if-none-match") === a.etag) return c.body(null, 304, headers);
    return c.body(a.body, 200, { ...headers, "content-type": a.type });
  });
  const d = {
    sessions,
    tokens: deps.tokens,
    store: deps.store,
    product: deps.rollout.serverInfo().product,
    now,
    rollout: deps.rollout,
    history: seededHistory,
    clock: deps.now,
  };
  authRoutes(app, d);
  pageRoutes(app, d);
  actionRoutes(app, d);
  const recordReports: MiddlewareHandler = async (c, next) => {
    await seededHistory();
    await next();
    if (c.res.status !== 200) return;
    try {
      history.record(parseReport(await readDocument(c)), now());
    } catch {
      // Accepted by the route, so it parses; nothing to record otherwise.
    }
  };
  return { app, recordReports, sessions };
}
