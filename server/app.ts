/**
 * The HTTP API (DESIGN §4) as a Hono app over injected dependencies. Tests call `createApp(deps).request()`
 * with no port; only `cmd/serve.ts` calls `Bun.serve`, with the find/ping hot path in front of the router.
 *
 * Who may call what (one rule, every route; server/app.test.ts checks each route in one table):
 * - public: what hosts need before they have any token, and health: find/ping (and ping/:connector,
 *   RFD 109's automaticupgrades/channel/...), install.sh, /download, /artifacts, /healthz, /readyz;
 * - viewer or admin token: every other read (resources, server, rollout, agents, releases, /metrics);
 * - agent or admin token: reports;
 * - admin token: every write, and the token list.
 * No token, or one the server does not know: 401. A known token of the wrong kind: 403.
 * The dashboard (/dashboard, server/dashboard/) takes no bearer token: its login form takes an admin or
 * viewer token once and keeps a session cookie; its actions need an admin session and a CSRF token.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { isGroupAction, parseReport } from "../core/wire/mod.ts";
import type { ArtifactStore } from "./artifact_store.ts";
import { dashboard } from "./dashboard/mod.ts";
import { FIND_PATHS, findQuery, PING_CONNECTOR_PATHS, RFD109_PATHS, rfd109Answer } from "./hot_path.ts";
import {
  type Env,
  errorHandler,
  guards,
  problem,
  REPORT_BODY_LIMIT,
  readDocument,
  tooLarge,
} from "./http.ts";
import type { Metrics } from "./metrics.ts";
import type { RolloutService } from "./rollout_service.ts";
import { artifactRoutes } from "./routes_artifacts.ts";
import { resourceRoutes } from "./routes_resources.ts";
import { tokenRoutes } from "./routes_tokens.ts";
import { type Store, StoreUnavailableError } from "./store.ts";
import type { TokenChecker } from "./tokens.ts";

/** Teleport's find/ping paths (cmd/serve also answers these before the router, with the same bodies). */
export { FIND_PATHS } from "./hot_path.ts";

export interface SelfBinary {
  /** `upkeep-<os>-<arch>` of the running executable. */
  name: string;
  path: string;
  sha256: () => Promise<string>;
}

export interface AppDeps {
  store: Store;
  artifacts: ArtifactStore;
  tokens: TokenChecker;
  rollout: RolloutService;
  metrics: Metrics;
  /** The URL hosts use to reach this server (known only once listening when the port is 0). */
  publicUrl: () => string;
  self?: SelfBinary;
  now: () => Date;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export function createApp(deps: AppDeps): Hono<Env> {
  const { store, tokens, rollout, metrics } = deps;
  const app = new Hono<Env>();

  app.use(countRequests(metrics));

  const g = guards(tokens, store);
  const { viewer, admin, reporter, writable } = g;
  app.onError(errorHandler(deps.log));
  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${c.req.path}`));

  // The web dashboard (server/dashboard): its own login and session cookie; it keeps each host's reports.
  const ui = dashboard(deps);
  app.get("/", (c) => c.redirect("/dashboard", 303));
  app.route("/dashboard", ui.app);
  app.use("/v1/agents/report", ui.recordReports);

  healthRoutes(app, deps, viewer);

  // Teleport-compatible find/ping (cmd/serve also answers these before the router, same bodies), and
  // RFD 109's channel answers for Teleport's v1 updaters (server/hot_path.ts).
  for (const path of [...FIND_PATHS, ...PING_CONNECTOR_PATHS]) {
    app.get(path, (c) => {
      const { group, updater } = findQuery(c.req.url);
      return c.body(rollout.findBody(group, updater), 200, { "content-type": "application/json" });
    });
  }
  for (const path of RFD109_PATHS) app.get(path, (c) => rfd109Answer(rollout, c.req.url));

  resourceRoutes(app, deps, g);

  // Rollout.
  app.get("/v1/rollout", viewer, async (c) => c.json(await rollout.view()));
  app.post("/v1/rollout/groups/:name/:action", admin, writable, async (c) => {
    const action = c.req.param("action") ?? "";
    if (!isGroupAction(action)) {
      return problem(
        c,
        404,
        `unknown rollout action ${JSON.stringify(action)}: use start, force, done or rollback`,
      );
    }
    await rollout.action(c.req.param("name") ?? "", action);
    return c.json(await rollout.view());
  });

  // Agents.
  // Not behind `writable`: a report is acknowledged only once its batch is committed, and the batch checks
  // the database first (a report to a database gone is a 503 all the same, one check per batch).
  app.post("/v1/agents/report", reporter, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const report = parseReport(await readDocument(c));
    await rollout.report({ ...report, last_seen: deps.now().toISOString() });
    return c.json({ ok: true });
  });
  app.get("/v1/agents", viewer, async (c) => c.json(await rollout.agents(c.req.query())));

  tokenRoutes(app, deps, g);
  artifactRoutes(app, deps, g);
  return app;
}

/**
 * Health and metrics. Process health (200 whenever this process answers: find/ping answer even with the
 * database away, so a load balancer must not drop every replica when the database blips), the store's health
 * beside it, and whether this replica runs the rollout reconciler (holds the lease). /readyz: 503 while
 * writes are refused.
 */
function healthRoutes(app: Hono<Env>, deps: AppDeps, viewer: MiddlewareHandler<Env>): void {
  const { store, rollout, metrics } = deps;
  app.get("/healthz", (c) =>
    c.json({ status: "ok", reconciler: rollout.leads(), store: store.health() }, 200, {
      "cache-control": "no-store",
    }),
  );
  app.get("/readyz", (c) => {
    if (!rollout.ready()) return c.text("not ready\n", 503);
    try {
      store.assertWritable();
    } catch (e) {
      // Reads still answer, but nothing given to this server is kept: not ready, and why.
      if (e instanceof StoreUnavailableError) return c.text(`not ready: ${e.message}\n`, 503);
      throw e;
    }
    return c.text("ready\n");
  });
  app.get("/metrics", viewer, (c) => {
    rollout.exportMetrics(metrics);
    return c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" });
  });
}

/** Requests by route and status (each counter's cell found once). */
function countRequests(metrics: AppDeps["metrics"]): MiddlewareHandler<Env> {
  const cells = new Map<string, { value: number }>();
  return async (c, next) => {
    await next();
    const labels = {
      route: c.req.routePath || "unmatched",
      method: c.req.method,
      status: String(c.res.status),
    };
    const k = `${labels.method} ${labels.status} ${labels.route}`;
    let cell = cells.get(k);
    if (cell === undefined) {
      cell = metrics.counter("upkeep_http_requests_total", "HTTP requests by route and status", labels);
      cells.set(k, cell);
    }
    cell.value++;
  };
}
