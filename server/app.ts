/**
 * The HTTP API (DESIGN §4) as a Hono app over injected dependencies. Tests call `createApp(deps).request()`
 * with no port; only `cmd/serve.ts` calls `Bun.serve`, with the find/ping hot path in front of the router.
 *
 * Who may call what (one rule, every route; server/app.test.ts checks each route in one table):
 * - public: what hosts need before they have any token, and health: find/ping, install.sh, /download,
 *   /artifacts, /healthz, /readyz;
 * - viewer or admin token: every other read (resources, server, rollout, agents, releases, /metrics);
 * - agent or admin token: reports;
 * - admin token: every write, and the token list.
 * No token, or one the server does not know: 401. A known token of the wrong kind: 403.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parse as parseYaml } from "yaml";
import { isUpkeepError, UpkeepError } from "../core/errors.ts";
import { BadResourceError } from "../core/resources/mod.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { isGroupAction, parseReport, type TokenView } from "../core/wire/mod.ts";
import { type ApplyKind, applyDocs, parseApplyBody, parseDoc } from "./apply.ts";
import { type ArtifactStore, checkArtifactName } from "./artifact_store.ts";
import { installScript } from "./install_sh.ts";
import type { Metrics } from "./metrics.ts";
import type { RolloutService } from "./rollout_service.ts";
import { type Store, StoreUnavailableError, TOKEN_KINDS, type TokenKind } from "./store.ts";
import { bearer, generateToken, hashToken, type TokenChecker } from "./tokens.ts";

export const RESOURCE_BODY_LIMIT = 1024 * 1024;
export const REPORT_BODY_LIMIT = 64 * 1024;
export const ARTIFACT_BODY_LIMIT = 4 * 1024 * 1024 * 1024;

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

type Env = { Variables: { route: string } };

/** HTTP status for each refusal code; anything unlisted is a usage error (400) or an internal error (500). */
const STATUS_BY_CODE: Partial<Record<string, 400 | 404 | 409 | 413 | 500>> = {
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_NOT_IN_MANIFEST: 409,
  E_MALFORMED: 400,
  E_USAGE: 400,
  E_BAD_VERSION: 400,
  E_BAD_RESOURCE: 400,
  E_SIZE: 413,
  E_IO: 500,
  E_INTERNAL: 500,
};

/** A query flag: `?x=1`, `?x=true` or a bare `?x`. */
const flag = (v: string | undefined) => v !== undefined && v !== "0" && v !== "false";

const withArticle = (kind: string) => `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;

function problem(
  c: Context,
  status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 500 | 503,
  error: string,
  extra = {},
) {
  return c.json({ error, ...extra }, status);
}

/** Reads a JSON or YAML request body. Malformed -> 400 naming the problem. */
async function readDocument(c: Context): Promise<unknown> {
  const text = await c.req.text();
  const type = c.req.header("content-type") ?? "";
  try {
    if (type.includes("json")) return JSON.parse(text);
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new UpkeepError(
      "E_MALFORMED",
      `request body is not valid ${type.includes("json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`,
      { exitCode: 2 },
    );
  }
}

const tooLarge = (limit: number) =>
  bodyLimit({
    maxSize: limit,
    onError: (c) => problem(c, 413, `request body is larger than the limit of ${limit} bytes`),
  });

export function createApp(deps: AppDeps): Hono<Env> {
  const { store, artifacts, tokens, rollout, metrics } = deps;
  const app = new Hono<Env>();

  // Requests by route and status.
  app.use(async (c, next) => {
    await next();
    metrics.inc("upkeep_http_requests_total", "HTTP requests by route and status", {
      route: c.req.routePath || "unmatched",
      method: c.req.method,
      status: String(c.res.status),
    });
  });

  const requireToken = (kinds: TokenKind[]) => async (c: Context, next: () => Promise<void>) => {
    const token = bearer(c.req.header("authorization"));
    if (!token) return problem(c, 401, "missing token: send `Authorization: Bearer <token>`");
    const kind = await tokens.kindOf(token);
    if (kind === undefined) return problem(c, 401, "invalid token");
    if (!kinds.includes(kind))
      return problem(
        c,
        403,
        `${c.req.method} ${c.req.path} needs ${kinds.map(withArticle).join(" or ")} token; this is ${withArticle(kind)} token`,
        { code: "E_UNAUTHORIZED" },
      );
    await next();
  };
  const admin = requireToken(["admin"]);
  /** Status reads. */
  const viewer = requireToken(["viewer", "admin"]);
  const reporter = requireToken(["agent", "admin"]);
  /** Before a write is accepted (and a body read): the store must still keep what it is given. */
  const writable = async (_c: Context, next: () => Promise<void>) => {
    store.assertWritable();
    await next();
  };

  app.onError((err, c) => {
    if (err instanceof StoreUnavailableError) {
      return problem(c, 503, err.message, {
        code: err.code,
        file: err.file,
        ...(err.hint ? { hint: err.hint } : {}),
      });
    }
    if (err instanceof BadResourceError) {
      return problem(c, 400, err.message, { code: err.code, problems: err.problems });
    }
    if (isUpkeepError(err)) {
      const hint = err.hint ? { hint: err.hint } : {};
      const status = STATUS_BY_CODE[err.code] ?? (err.exitCode === 2 ? 400 : 500);
      if (status === 500)
        deps.log("internal error", { route: c.req.path, code: err.code, error: err.message });
      return problem(c, status, err.message, { code: err.code, ...hint });
    }
    deps.log("internal error", { route: c.req.path, error: String(err) });
    return problem(c, 500, "internal error", { code: "E_INTERNAL" });
  });
  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${c.req.path}`));

  // Health and metrics.
  app.get("/healthz", (c) => c.text("ok\n"));
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

  // Teleport-compatible find/ping (cmd/serve also answers these before the router, same bodies).
  for (const path of ["/webapi/find", "/v1/webapi/find", "/webapi/ping", "/v1/webapi/ping"]) {
    app.get(path, (c) => {
      const body = rollout.findBody(c.req.query("group") ?? "", c.req.query("updater_id") ?? "");
      return c.body(body, 200, { "content-type": "application/json" });
    });
  }

  // Resources.
  app.get("/v1/resources/autoupdate_config", viewer, (c) => c.json(rollout.getConfig()));
  app.get("/v1/resources/autoupdate_version", viewer, (c) => c.json(rollout.getVersion()));
  // Every write of a resource goes through applyDocs: validated, planned, checked against the published
  // manifest (unless ?force=1), stored in order; ?dry_run=1 answers the plan and changes nothing.
  const applyOptions = (c: Context) => ({
    dryRun: flag(c.req.query("dry_run")),
    force: flag(c.req.query("force")),
  });
  const notDryRun = async (c: Context, next: () => Promise<void>) => {
    if (!flag(c.req.query("dry_run"))) store.assertWritable();
    await next();
  };
  app.post("/v1/apply", admin, notDryRun, tooLarge(RESOURCE_BODY_LIMIT), async (c) => {
    const docs = parseApplyBody(await readDocument(c));
    return c.json(await applyDocs(rollout, docs, applyOptions(c), deps.now));
  });
  const putOne = (kind: ApplyKind, stored: () => unknown) => async (c: Context) => {
    const o = applyOptions(c);
    const result = await applyDocs(rollout, [parseDoc(kind, await readDocument(c))], o, deps.now);
    return c.json(o.dryRun ? result : stored());
  };
  app.put(
    "/v1/resources/autoupdate_config",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("autoupdate_config", () => rollout.getConfig()),
  );
  app.put(
    "/v1/resources/autoupdate_version",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("autoupdate_version", () => rollout.getVersion()),
  );
  app.get("/v1/server", viewer, (c) => c.json(rollout.serverInfo()));
  app.put(
    "/v1/server",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("server", () => rollout.serverInfo()),
  );

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
  app.post("/v1/agents/report", reporter, writable, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const report = parseReport(await readDocument(c));
    await rollout.report({ ...report, last_seen: deps.now().toISOString() });
    return c.json({ ok: true });
  });
  app.get("/v1/agents", viewer, async (c) => c.json({ agents: await rollout.agents() }));

  // Tokens. Listed without their hashes; revoked by id (never the last admin token).
  const allTokens = async () => (await Promise.all(TOKEN_KINDS.map((k) => store.listTokens(k)))).flat();
  app.get("/v1/tokens", admin, async (c) => {
    const all = await allTokens();
    return c.json({
      tokens: all.map((t): TokenView => ({ id: t.id, type: t.kind, name: t.name, created: t.created })),
    });
  });
  app.delete("/v1/tokens/:id", admin, writable, async (c) => {
    const id = c.req.param("id") ?? "";
    const admins = await store.listTokens("admin");
    const t = (await allTokens()).find((x) => x.id === id);
    if (!t) return problem(c, 404, `no token with id ${JSON.stringify(id)}`);
    if (t.kind === "admin" && admins.length === 1)
      return problem(c, 409, "this is the last admin token: revoking it would lock everyone out", {
        hint: "restart the server with UPKEEP_ADMIN_TOKEN set to a new token instead",
      });
    await store.removeTokens([id]);
    tokens.invalidate();
    return c.json({ revoked: { id: t.id, type: t.kind, name: t.name } });
  });
  app.post("/v1/tokens", admin, writable, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const text = await c.req.text();
    let doc: { type?: unknown; name?: unknown } = {};
    try {
      doc = text.trim() ? JSON.parse(text) : {};
    } catch {
      return problem(c, 400, "request body is not valid JSON");
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc))
      return problem(c, 400, "request body must be a JSON object");
    const type = doc.type ?? "agent";
    if (type !== "agent" && type !== "viewer")
      return problem(
        c,
        400,
        "type: only `agent` (reports) and `viewer` (status reads) tokens can be created; the admin token comes from UPKEEP_ADMIN_TOKEN or the first start",
        { problems: [{ path: "type", message: "must be agent or viewer" }] },
      );
    const name = typeof doc.name === "string" && doc.name ? doc.name.slice(0, 128) : type;
    const token = generateToken();
    await store.addToken({
      id: crypto.randomUUID(),
      kind: type,
      hash: hashToken(token),
      name,
      created: deps.now().toISOString(),
    });
    tokens.invalidate();
    return c.json({ type, name, token }, 201);
  });

  // Artifacts.
  app.put("/v1/artifacts/:name", admin, writable, async (c) => {
    const name = checkArtifactName(c.req.param("name") ?? "");
    const length = Number(c.req.header("content-length") ?? "0");
    if (length > ARTIFACT_BODY_LIMIT)
      return problem(c, 413, `artifact is larger than the limit of ${ARTIFACT_BODY_LIMIT} bytes`);
    const body = c.req.raw.body;
    if (!body) return problem(c, 400, "empty body: send the artifact bytes");
    const stored = await artifacts.put(name, body, ARTIFACT_BODY_LIMIT);
    await store.putArtifact({ name, ...stored, uploaded: deps.now().toISOString() });
    await rollout.artifactsChanged();
    deps.log("artifact stored", { name, ...stored });
    return c.json({ name, ...stored }, 201);
  });
  app.get("/v1/releases", viewer, async (c) => c.json(await rollout.releases()));
  app.post("/v1/releases", admin, writable, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const doc = (await readDocument(c)) as { version?: unknown; critical?: unknown } | null;
    const v = typeof doc?.version === "string" ? tryParseVersion(doc.version) : undefined;
    if (!v)
      return problem(c, 400, "version: must be a semver version", {
        problems: [{ path: "version", message: "must be a semver version" }],
      });
    if (typeof doc?.critical !== "boolean")
      return problem(c, 400, "critical: must be true or false", {
        problems: [{ path: "critical", message: "must be a boolean" }],
      });
    await rollout.setCritical(formatVersion(v), doc.critical);
    return c.json(await rollout.releases());
  });
  const serveArtifact = async (c: Context) => {
    const name = c.req.param("name") ?? "";
    const path = artifacts.path(name);
    const meta = path ? await store.getArtifact(name) : undefined;
    if (!path || !meta) return problem(c, 404, `no artifact named ${JSON.stringify(name)}`);
    return fileResponse(c, path, meta.size, `"${meta.sha256}"`);
  };
  app.get("/artifacts/:name", serveArtifact);
  app.on("HEAD", "/artifacts/:name", serveArtifact);

  // Agent installation.
  app.get("/scripts/install.sh", (c) =>
    c.body(installScript(deps.publicUrl()), 200, { "content-type": "text/x-shellscript; charset=utf-8" }),
  );
  app.get("/download/:file", async (c) => {
    const file = c.req.param("file");
    const self = deps.self;
    if (!self || (file !== self.name && file !== `${self.name}.sha256`)) {
      return problem(
        c,
        404,
        `no download named ${JSON.stringify(file)}${self ? `: this server has ${self.name}` : ""}`,
      );
    }
    const sha = await self.sha256();
    if (file.endsWith(".sha256")) return c.text(`${sha}  ${self.name}\n`);
    const size = Bun.file(self.path).size;
    return fileResponse(c, self.path, size, `"${sha}"`);
  });

  return app;
}

/** `If-None-Match`: `*`, or a list of entity tags compared weakly (a `W/` prefix does not matter). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || strip(t) === strip(etag));
}

/** A file with ETag and single-range support. */
function fileResponse(c: Context, path: string, size: number, etag: string): Response {
  const file = Bun.file(path);
  const headers: Record<string, string> = {
    etag,
    "accept-ranges": "bytes",
    "content-type": "application/octet-stream",
  };
  if (matchesEtag(c.req.header("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  const range = c.req.header("range");
  const ifRange = c.req.header("if-range");
  // One range is served; several, or one that is not valid syntax (e.g. 5-2), is ignored: the whole file
  // (RFC 9110 §14.2). A valid range that starts past the end is 416.
  const m = range && (!ifRange || ifRange === etag) ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  const valid = m !== null && (m[1] !== "" || m[2] !== "") && !(m[1] && m[2] && Number(m[1]) > Number(m[2]));
  if (m && valid) {
    let start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
    let end = m[1] && m[2] ? Number(m[2]) : size - 1;
    if (!m[1] && Number(m[2]) === 0) start = size; // bytes=-0: nothing
    if (start >= size) {
      return new Response(null, { status: 416, headers: { ...headers, "content-range": `bytes */${size}` } });
    }
    end = Math.min(end, size - 1);
    const body = c.req.method === "HEAD" ? null : file.slice(start, end + 1);
    return new Response(body, {
      status: 206,
      headers: {
        ...headers,
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(end - start + 1),
      },
    });
  }
  return new Response(c.req.method === "HEAD" ? null : file, {
    status: 200,
    headers: { ...headers, "content-length": String(size) },
  });
}
