/** The dashboard's pages, its live refresh, and the actions (group actions and the critical flag). */
import type { Context, Hono } from "hono";
import {
  confirmCritical,
  confirmGroupAction,
  criticalResult,
  groupActionResult,
  parseAgentQuery,
  type ReportHistory,
} from "../../core/dashboard/mod.ts";
import { isUpkeepError } from "../../core/errors.ts";
import { formatVersion, tryParseVersion } from "../../core/version/mod.ts";
import { isGroupAction } from "../../core/wire/mod.ts";
import type { RolloutService } from "../rollout_service.ts";
import { StoreUnavailableError } from "../store.ts";
import { type AuthDeps, checkPost, refuse, sessionOf, wantsJson } from "./auth.ts";
import { readHost, readPageData } from "./data.ts";
import { page } from "./layout.ts";
import { hostDetail } from "./render_hosts.ts";
import { confirmPage, messagePage } from "./render_login.ts";
import { dashboardPage, SECTIONS, sections } from "./render_page.ts";
import type { Session } from "./sessions.ts";

export interface PageDeps extends AuthDeps {
  rollout: RolloutService;
  history: () => Promise<ReportHistory>;
  clock: () => Date;
}

const FORM_LIMIT = 16 * 1024;
const tooLarge = (c: Context) => Number(c.req.header("content-length") ?? 0) > FORM_LIMIT;

export function pageRoutes(app: Hono, d: PageDeps): void {
  const pageOr = async (c: Context) => {
    const s = await sessionOf(c, d);
    return s ?? c.redirect("/dashboard/login", 303);
  };
  app.get("/", async (c) => {
    const s = await pageOr(c);
    if (s instanceof Response) return s;
    const q = parseQuery(c);
    if (q instanceof Response) return q;
    const data = await readPageData(d.rollout, d.clock, q);
    return c.html(dashboardPage(sections(data, q, s, await d.history()), q, s, d.product).value);
  });
  // Live refresh: every section's HTML and a stamp; 304 when nothing changed since the stamp sent.
  app.get("/live", async (c) => {
    const s = await sessionOf(c, d);
    if (!s) return c.json({ ok: false, error: "not logged in, or the session expired" }, 401);
    const q = parseQuery(c);
    if (q instanceof Response) return q;
    const data = await readPageData(d.rollout, d.clock, q);
    const { parts, stamp } = sections(data, q, s, await d.history());
    if (c.req.header("if-none-match") === stamp) return c.body(null, 304, { etag: stamp });
    const body = Object.fromEntries(SECTIONS.map((k) => [k, parts[k].value]));
    return c.json({ stamp, sections: body }, 200, { etag: stamp });
  });
  app.get("/hosts/:id", async (c) => {
    const s = await pageOr(c);
    if (s instanceof Response) return s;
    const id = c.req.param("id");
    const host = await readHost(d.rollout, id);
    if (!host)
      return c.html(
        messagePage(d.product, "No such host", `no agent with id ${JSON.stringify(id)} has reported`, s)
          .value,
        404,
      );
    const { agent: a, group } = host;
    const body = hostDetail(a, group, (await d.history()).recent(id), d.clock().getTime());
    return c.html(page({ title: `upkeep: ${a.hostname}`, product: d.product, session: s, body }).value);
  });
}

function parseQuery(c: Context) {
  try {
    return parseAgentQuery(c.req.query());
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    return wantsJson(c) || c.req.path.endsWith("/live")
      ? c.json({ ok: false, error: e.message }, 400)
      : c.html(messagePage("upkeep", "Bad filter", e.message).value, 400);
  }
}

/** The status of a refused action, from its error code (as the API answers it). */
function statusOf(e: unknown): 400 | 404 | 409 | 503 {
  if (e instanceof StoreUnavailableError) return 503;
  if (!isUpkeepError(e)) throw e;
  if (e.code === "E_NOT_FOUND") return 404;
  if (e.code === "E_CONFLICT" || e.code === "E_NOT_IN_MANIFEST") return 409;
  if (e.code === "E_USAGE" || e.code === "E_BAD_VERSION" || e.code === "E_MALFORMED") return 400;
  throw e;
}

/** Runs an action; answers its result (JSON for the script; for a plain form, a flash and the page). */
async function act(c: Context, s: Session, run: () => Promise<string>) {
  let ok = true;
  let status: 200 | 400 | 404 | 409 | 503 = 200;
  let text: string;
  try {
    text = await run();
  } catch (e) {
    status = statusOf(e);
    ok = false;
    const err = e as Error & { hint?: string };
    text = `refused (${status}): ${err.message}${err.hint ? `; ${err.hint}` : ""}`;
  }
  if (wantsJson(c)) return c.json({ ok, message: text }, status);
  s.flash = { ok, text };
  return c.redirect("/dashboard", 303);
}

export function actionRoutes(app: Hono, d: PageDeps): void {
  app.post("/groups/:name/:action", async (c) => {
    if (tooLarge(c)) return refuse(c, 400, `form larger than ${FORM_LIMIT} bytes`, d.product);
    const form = await c.req.parseBody();
    const s = await checkPost(c, d, form, true);
    if (s instanceof Response) return s;
    const group = c.req.param("name");
    const action = c.req.param("action");
    if (!isGroupAction(action))
      return refuse(
        c,
        404,
        `unknown rollout action ${JSON.stringify(action)}: use start, force, done or rollback`,
        d.product,
      );
    if (form.confirmed !== "1")
      return c.html(confirmPage(d.product, s, c.req.path, confirmGroupAction(group, action), {}).value);
    return act(c, s, async () => {
      await d.rollout.action(group, action);
      return groupActionResult(await d.rollout.view(), group, action);
    });
  });
  app.post("/critical", async (c) => {
    if (tooLarge(c)) return refuse(c, 400, `form larger than ${FORM_LIMIT} bytes`, d.product);
    const form = await c.req.parseBody();
    const s = await checkPost(c, d, form, true);
    if (s instanceof Response) return s;
    const v = typeof form.version === "string" ? tryParseVersion(form.version) : undefined;
    if (!v) return refuse(c, 400, "version: must be a semver version", d.product);
    if (form.critical !== "true" && form.critical !== "false")
      return refuse(c, 400, "critical: must be true or false", d.product);
    const version = formatVersion(v);
    const critical = form.critical === "true";
    if (form.confirmed !== "1")
      return c.html(
        confirmPage(d.product, s, c.req.path, confirmCritical(version, critical), {
          version,
          critical: String(critical),
        }).value,
      );
    return act(c, s, async () => {
      await d.rollout.setCritical(version, critical);
      return criticalResult((await d.rollout.releases()).critical);
    });
  });
}
