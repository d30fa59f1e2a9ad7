/**
 * Builds a server from flags, a config file and the environment: store, artifact store, tokens, rollout
 * service, the Hono app and the find/ping hot path. `cmd/serve.ts` puts it behind `Bun.serve`.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../core/duration.ts";
import { UpkeepError, UsageError } from "../core/errors.ts";
import { hashFile } from "../core/sys/hash.ts";
import { acquireLock } from "../core/sys/lock.ts";
import { isValidProduct } from "../core/trust/artifact_name.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { DEFAULT_TOOLS_CACHE_SECONDS, type ServerInfo } from "../core/wire/mod.ts";
import { createApp, type SelfBinary } from "./app.ts";
import { LocalArtifactStore } from "./artifact_store.ts";
import { createLogger, type LogFn } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { RolloutService } from "./rollout_service.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { generateToken, hashToken, TokenChecker } from "./tokens.ts";

/** Everything `upkeep serve` can be told, by flag or by config file (snake_case there). */
export interface ServeOptions {
  listen?: string;
  dataDir?: string;
  config?: string;
  product?: string;
  serverVersion?: string;
  clusterName?: string;
  edition?: string;
  fips?: boolean;
  reconcileInterval?: string;
  agentTimeout?: string;
  tlsCert?: string;
  tlsKey?: string;
  publicUrl?: string;
  logFormat?: string;
  jitterSeconds?: number;
  toolsCacheSeconds?: number;
}

const FILE_KEYS: Record<string, keyof ServeOptions> = {
  listen: "listen",
  data_dir: "dataDir",
  product: "product",
  server_version: "serverVersion",
  cluster_name: "clusterName",
  edition: "edition",
  fips: "fips",
  reconcile_interval: "reconcileInterval",
  agent_timeout: "agentTimeout",
  tls_cert: "tlsCert",
  tls_key: "tlsKey",
  public_url: "publicUrl",
  log_format: "logFormat",
  agent_update_jitter_seconds: "jitterSeconds",
  tools_cache_seconds: "toolsCacheSeconds",
};

export interface ResolvedOptions {
  /** True when --public-url was not given and is derived from --listen. */
  publicUrlDerived: boolean;
  hostname: string;
  port: number;
  dataDir: string;
  product: string;
  /** undefined: not given (a stored value, or none: then nothing is told to update until it is set). */
  serverVersion: string | undefined;
  serverVersionFromFlag: boolean;
  clusterName: string;
  edition: "oss" | "ent";
  fips: boolean;
  reconcileMs: number;
  /** An agent not heard from for this long no longer counts in rollout decisions. */
  agentTimeoutMs: number;
  tls?: { cert: string; key: string };
  publicUrl: string;
  logFormat: "text" | "json";
  jitterSeconds: number;
  /** How long client tools may cache the find answer (`upkeep.cache_seconds`). */
  toolsCacheSeconds: number;
}

function readConfigFile(path: string): ServeOptions {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message.split("\n")[0]}`, {
      cause: e,
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${path}: must be a YAML mapping`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = FILE_KEYS[k];
    if (!key) {
      throw new UsageError(`${path}: unknown key ${JSON.stringify(k)}`, {
        hint: `known keys: ${Object.keys(FILE_KEYS).join(", ")}`,
      });
    }
    out[key] = v;
  }
  return out as ServeOptions;
}

/** Merges flags over the config file over defaults, and validates every value (UsageError naming it). */
export function resolveOptions(flags: ServeOptions): ResolvedOptions {
  const file = flags.config ? readConfigFile(flags.config) : {};
  const pick = <K extends keyof ServeOptions>(k: K): ServeOptions[K] => flags[k] ?? file[k];

  const listen = String(pick("listen") ?? "127.0.0.1:8080");
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new UsageError(`--listen ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
  const hostname = (m[1] as string).replace(/^\[|\]$/g, "");

  const sv = pick("serverVersion");
  const parsedSv = sv === undefined ? undefined : tryParseVersion(String(sv));
  if (sv !== undefined && !parsedSv)
    throw new UsageError(`--server-version ${JSON.stringify(sv)}: not a semver version`);

  const edition = String(pick("edition") ?? "oss");
  if (edition !== "oss" && edition !== "ent")
    throw new UsageError(`--edition ${JSON.stringify(edition)}: use oss or ent`);
  const logFormat = String(pick("logFormat") ?? "text");
  if (logFormat !== "text" && logFormat !== "json")
    throw new UsageError(`--log-format ${JSON.stringify(logFormat)}: use text or json`);

  let reconcileMs: number;
  try {
    reconcileMs = parseDuration(String(pick("reconcileInterval") ?? "30s"));
  } catch (e) {
    throw new UsageError(`--reconcile-interval: ${(e as Error).message}`);
  }
  if (reconcileMs < 100) throw new UsageError("--reconcile-interval: must be at least 100ms");
  // Agents report every 5 minutes (plus up to agent_update_jitter_seconds before an update, plus the
  // download): an agent between two reports must still count, or a halt-on-error group could go `done`
  // without it (or skip its canaries). 20 minutes is four report intervals.
  let agentTimeoutMs: number;
  try {
    agentTimeoutMs = parseDuration(String(pick("agentTimeout") ?? "20m"));
  } catch (e) {
    throw new UsageError(`--agent-timeout: ${(e as Error).message}`);
  }
  if (agentTimeoutMs < 3 * reconcileMs)
    throw new UsageError("--agent-timeout: must be at least three reconcile intervals", {
      hint: "and well above the agents' --interval (5m by default)",
    });

  const product = String(pick("product") ?? "hello");
  if (!isValidProduct(product))
    throw new UsageError(
      `--product ${JSON.stringify(product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
    );

  const cert = pick("tlsCert");
  const key = pick("tlsKey");
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");

  const scheme = cert ? "https" : "http";
  // A wildcard address is where to listen, not where hosts reach us: install.sh and `agent enable` would
  // send every remote host to the wrong place.
  if ((hostname === "0.0.0.0" || hostname === "::") && pick("publicUrl") === undefined)
    throw new UsageError(
      `--listen ${listen} needs --public-url: the URL remote hosts use to reach this server (install.sh and agent enable hand it out)`,
      { hint: `e.g. --public-url ${scheme}://updates.example.com:${port}` },
    );
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const publicUrl = String(pick("publicUrl") ?? `${scheme}://${shownHost}:${port}`).replace(/\/+$/, "");
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
  } catch {
    throw new UsageError(`--public-url ${JSON.stringify(publicUrl)}: not an http(s) URL`);
  }
  const jitter = Number(pick("jitterSeconds") ?? 60);
  if (!Number.isInteger(jitter) || jitter < 0 || jitter > 86400)
    throw new UsageError("agent_update_jitter_seconds: must be an integer 0..86400");
  // Client tools keep the answer at least 10 s and at most an hour, whatever a server says.
  const toolsCache = Number(pick("toolsCacheSeconds") ?? DEFAULT_TOOLS_CACHE_SECONDS);
  if (!Number.isInteger(toolsCache) || toolsCache < 10 || toolsCache > 3600)
    throw new UsageError("tools_cache_seconds: must be an integer 10..3600 (seconds)");

  return {
    hostname,
    port,
    dataDir: resolve(String(pick("dataDir") ?? "./.upkeep")),
    product,
    serverVersion: parsedSv ? formatVersion(parsedSv) : undefined,
    serverVersionFromFlag: parsedSv !== undefined,
    clusterName: String(pick("clusterName") ?? "upkeep"),
    edition,
    fips: Boolean(pick("fips") ?? false),
    reconcileMs,
    agentTimeoutMs,
    ...(cert && key ? { tls: { cert: String(cert), key: String(key) } } : {}),
    publicUrl,
    publicUrlDerived: pick("publicUrl") === undefined,
    logFormat,
    jitterSeconds: jitter,
    toolsCacheSeconds: toolsCache,
  };
}

export interface Booted {
  options: ResolvedOptions;
  app: ReturnType<typeof createApp>;
  rollout: RolloutService;
  metrics: Metrics;
  log: LogFn;
  /** The admin token when this start created it (printed once), else undefined. */
  newAdminToken?: string;
  /** Answers find/ping without the router: precomputed body per group. */
  hot: (req: Request) => Response;
  /**
   * Tells the server it listens, on which port (for `--listen HOST:0`; updates a derived public URL), and
   * stores the first-start admin token.
   */
  listening: (port: number) => Promise<void>;
  close: () => void;
}

function platformName(): string {
  const os = process.platform === "darwin" ? "darwin" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return `upkeep-${os}-${arch}`;
}

/** A file system refusal: permission, immutable file, read-only mount. */
function isDenied(e: unknown): boolean {
  return /^(EACCES|EPERM|EROFS)$/.test(String((e as { code?: unknown } | undefined)?.code ?? ""));
}

/** Opens the data dir and builds the server. */
export async function boot(
  flags: ServeOptions,
  env: Record<string, string | undefined>,
  now: () => Date = () => new Date(),
): Promise<Booted> {
  const o = resolveOptions(flags);
  const log = createLogger(o.logFormat, now);
  try {
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UpkeepError("E_IO", `cannot create data dir ${o.dataDir}: ${(e as Error).message}`, {
      cause: e,
      ...(isDenied(e) ? { exitCode: 2, hint: "give --data-dir a directory this user may write" } : {}),
    });
  }
  // One server per data dir: two would each run their own reconciler and overwrite each other's rollout.
  let dirLock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    dirLock = await acquireLock(join(o.dataDir, "serve.lock"), {
      waitMs: 0,
      what: `upkeep serve --listen ${o.hostname}:${o.port}`,
      busy: {
        who: "another upkeep serve",
        hint: "one server per --data-dir: stop the other one, or give this one its own data dir",
      },
    });
  } catch (e) {
    // A data dir this user may not write is the operator's to fix, like a bad flag (exit 2).
    if (e instanceof UpkeepError && e.code === "E_IO" && isDenied(e.cause))
      throw new UpkeepError("E_IO", `cannot write the data dir ${o.dataDir}: ${e.message}`, {
        cause: e,
        exitCode: 2,
        hint: "serve keeps its lock, database and artifacts there: make it writable by this user (owner, mode, lsattr, read-only mount)",
      });
    throw e;
  }
  let store: SqliteStore;
  try {
    store = new SqliteStore(join(o.dataDir, "upkeep.db"), {
      onUnavailable: (e) => log(`database unavailable: ${e.message}`, { file: e.file, hint: e.hint }),
    });
  } catch (e) {
    dirLock.release();
    throw e;
  }
  const artifacts = new LocalArtifactStore(join(o.dataDir, "artifacts"));
  const tokens = new TokenChecker(store);

  // Tokens: the admin token is created on first start and shown once (stored only once the server
  // listens, so a start that fails does not keep a token nobody saw); env vars preset tokens.
  const ensure = async (kind: "admin" | "agent", token: string, name: string) => {
    const hash = hashToken(token);
    if (!(await store.listTokens(kind)).some((t) => t.hash === hash)) {
      await store.addToken({ id: crypto.randomUUID(), kind, hash, name, created: now().toISOString() });
    }
  };
  let newAdminToken: string | undefined;
  if (env.UPKEEP_ADMIN_TOKEN) {
    // The operator's token is then the only admin token: setting a new one revokes the old ones.
    await ensure("admin", env.UPKEEP_ADMIN_TOKEN, "UPKEEP_ADMIN_TOKEN");
    const keep = hashToken(env.UPKEEP_ADMIN_TOKEN);
    const others = (await store.listTokens("admin")).filter((t) => t.hash !== keep);
    if (others.length > 0) {
      await store.removeTokens(others.map((t) => t.id));
      log("UPKEEP_ADMIN_TOKEN is set: other admin tokens revoked", { revoked: others.length });
    }
  } else if ((await store.listTokens("admin")).length === 0) newAdminToken = generateToken();
  if (env.UPKEEP_AGENT_TOKEN) await ensure("agent", env.UPKEEP_AGENT_TOKEN, "UPKEEP_AGENT_TOKEN");
  tokens.invalidate();

  const info: ServerInfo = {
    product: o.product,
    clusterName: o.clusterName,
    edition: o.edition,
    fips: o.fips,
    jitterSeconds: o.jitterSeconds,
    toolsCacheSeconds: o.toolsCacheSeconds,
  };
  const rollout = new RolloutService({
    store,
    info,
    serverVersion: o.serverVersion,
    serverVersionFromFlag: o.serverVersionFromFlag,
    now,
    presenceMs: o.agentTimeoutMs,
    readArtifact: async (name) => {
      const path = artifacts.path(name);
      const f = path ? Bun.file(path) : undefined;
      return f && (await f.exists()) && f.size <= 16 * 1024 * 1024 ? await f.text() : undefined;
    },
    log,
  });
  await rollout.load();
  if (rollout.serverVersion() === undefined)
    log(
      "server_version is not set: no cap and no raise, agents and client tools get autoupdate_version's versions as given (a product with a control plane sets it: serve --server-version X, or `upkeep admin apply` of kind: server)",
    );
  const metrics = new Metrics();

  const selfPath = process.execPath;
  let selfSha: Promise<string> | undefined;
  const self: SelfBinary = {
    name: platformName(),
    path: selfPath,
    sha256: () => {
      // Computed once; a failed read is not remembered, so the next request tries again.
      selfSha ??= hashFile(selfPath, ["sha256"])
        .then((r) => r.sha256 ?? "")
        .catch((e) => {
          selfSha = undefined;
          throw e;
        });
      return selfSha;
    },
  };

  const app = createApp({
    store,
    artifacts,
    tokens,
    rollout,
    metrics,
    publicUrl: () => o.publicUrl,
    self,
    now,
    log,
  });

  const hotRequests = metrics.counter("upkeep_http_requests_total", "HTTP requests by route and status", {
    route: "/webapi/find",
    method: "GET",
    status: "200",
  });
  const JSON_INIT = { headers: { "content-type": "application/json" } };
  const hot = (req: Request): Response => {
    const url = req.url;
    const q = url.indexOf("?");
    let group = "";
    let updater = "";
    if (q >= 0) {
      for (const part of url.slice(q + 1).split("&")) {
        const eq = part.indexOf("=");
        const k = eq < 0 ? part : part.slice(0, eq);
        if (k !== "group" && k !== "updater_id") continue;
        let v = eq < 0 ? "" : part.slice(eq + 1);
        if (v.includes("%") || v.includes("+")) {
          try {
            v = decodeURIComponent(v.replaceAll("+", " "));
          } catch {
            v = "";
          }
        }
        if (k === "group") group = v;
        else updater = v;
      }
    }
    hotRequests.value++;
    return new Response(rollout.findBody(group, updater), JSON_INIT);
  };

  return {
    options: o,
    app,
    rollout,
    metrics,
    log,
    ...(newAdminToken ? { newAdminToken } : {}),
    hot,
    listening: async (port: number) => {
      if (newAdminToken) await ensure("admin", newAdminToken, "first start");
      tokens.invalidate();
      if (o.publicUrlDerived && o.port === 0) {
        const u = new URL(o.publicUrl);
        u.port = String(port);
        o.publicUrl = u.origin;
      }
      o.port = port;
    },
    close: () => {
      store.close();
      dirLock.release();
    },
  };
}

/** Why `Bun.serve` could not start, as a refusal the operator can act on (exit 2, no stack). */
export function listenError(e: unknown, o: ResolvedOptions): UsageError {
  const code = (e as { code?: string }).code ?? "";
  const msg = (e as Error).message ?? String(e);
  const where = `${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${o.port}`;
  if (code === "EADDRINUSE" || /in use/i.test(msg))
    return new UsageError(`cannot listen on ${where}: the address is in use (another server?)`, {
      hint: "stop the other process or pick another --listen address",
    });
  if (code === "EACCES" || /permission/i.test(msg))
    return new UsageError(`cannot listen on ${where}: permission denied`, {
      hint: "ports below 1024 need privileges; use a higher port behind a proxy",
    });
  if (o.tls)
    return new UsageError(`cannot serve TLS with --tls-cert ${o.tls.cert} --tls-key ${o.tls.key}: ${msg}`, {
      hint: "check that both files exist, are readable PEM and belong together",
    });
  return new UsageError(`cannot listen on ${where}: ${msg}`);
}
