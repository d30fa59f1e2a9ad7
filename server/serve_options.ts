/**
 * What `upkeep serve` is told, by flag or by config file (snake_case there), merged and checked: every bad
 * value is a UsageError naming the flag (exit 2).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../core/duration.ts";
import { UsageError } from "../core/errors.ts";
import { isLoopbackHost } from "../core/install/url.ts";
import { errorCodeOf } from "../core/sys/io_error.ts";
import { isValidProduct } from "../core/trust/artifact_name.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { DEFAULT_TOOLS_CACHE_SECONDS } from "../core/wire/mod.ts";

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
  agentRetention?: string;
  tlsCert?: string;
  tlsKey?: string;
  publicUrl?: string;
  logFormat?: string;
  jitterSeconds?: number;
  toolsCacheSeconds?: number;
  /** postgres://USER:PASSWORD@HOST:PORT/DB; absent: SQLite in the data dir. */
  store?: string;
  /** Where hosts download releases (a CDN, nginx, a bucket's web endpoint) instead of serve's /artifacts. */
  artifactsUrl?: string;
  /** The local artifacts dir (default DATA_DIR/artifacts). */
  artifactsDir?: string;
  /** The artifacts dir is shared by every replica (NFS, a shared volume): uploads to any replica are seen by all. */
  artifactsShared?: boolean;
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
  agent_retention: "agentRetention",
  tls_cert: "tlsCert",
  tls_key: "tlsKey",
  public_url: "publicUrl",
  log_format: "logFormat",
  agent_update_jitter_seconds: "jitterSeconds",
  tools_cache_seconds: "toolsCacheSeconds",
  store: "store",
  artifacts_url: "artifactsUrl",
  artifacts_dir: "artifactsDir",
  artifacts_shared: "artifactsShared",
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
  /** Teleport's names: `community` builds are named like `oss` ones. */
  edition: "oss" | "community" | "ent";
  fips: boolean;
  reconcileMs: number;
  /** An agent not heard from for this long no longer counts in rollout decisions. */
  agentTimeoutMs: number;
  /** An agent not heard from for this long is deleted from the store (default 30 days). */
  agentRetentionMs: number;
  tls?: { cert: string; key: string };
  publicUrl: string;
  logFormat: "text" | "json";
  jitterSeconds: number;
  /** How long client tools may cache the find answer (`upkeep.cache_seconds`). */
  toolsCacheSeconds: number;
  /** A PostgreSQL URL (validated), or undefined: SQLite in the data dir. */
  store: string | undefined;
  /** `--artifacts-url` without a trailing '/': where hosts download releases; undefined: this server's /artifacts. */
  artifactsUrl: string | undefined;
  /** Where uploaded artifacts are kept (absolute). */
  artifactsDir: string;
  /** `--artifacts-shared`: artifactsDir is the same storage on every replica. */
  artifactsShared: boolean;
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

/**
 * `--edition` (Teleport's: oss, community, ent; default oss) and `--fips`. Teleport's FIPS builds are
 * Enterprise builds (teleport-ent-v{version}-{os}-{arch}-fips-bin.tar.gz): a Teleport updater told `fips`
 * with another edition would look for a name that is never published, so that pair is refused.
 */
function editionOf(
  given: unknown,
  givenFips: unknown,
): { edition: ResolvedOptions["edition"]; fips: boolean } {
  const edition = String(given ?? "oss");
  if (edition !== "oss" && edition !== "community" && edition !== "ent")
    throw new UsageError(`--edition ${JSON.stringify(edition)}: use oss, community or ent`);
  const fips = Boolean(givenFips ?? false);
  if (fips && edition !== "ent")
    throw new UsageError(`--fips needs --edition ent (this is --edition ${edition})`, {
      hint: "FIPS builds are Enterprise builds, named {product}-ent-v{version}-{os}-{arch}-fips-bin.tar.gz as Teleport's",
    });
  return { edition, fips };
}

/** Merges flags over the config file over defaults, and validates every value (UsageError naming it). */
export function resolveOptions(flags: ServeOptions): ResolvedOptions {
  const file = flags.config ? readConfigFile(flags.config) : {};
  const pick: Picker = (k) => flags[k] ?? file[k];

  const listen = String(pick("listen") ?? "127.0.0.1:8080");
  const { hostname, port } = parseListen(listen);

  const sv = pick("serverVersion");
  const parsedSv = sv === undefined ? undefined : tryParseVersion(String(sv));
  if (sv !== undefined && !parsedSv)
    throw new UsageError(`--server-version ${JSON.stringify(sv)}: not a semver version`);

  const { edition, fips } = editionOf(pick("edition"), pick("fips"));
  const logFormat = String(pick("logFormat") ?? "text");
  if (logFormat !== "text" && logFormat !== "json")
    throw new UsageError(`--log-format ${JSON.stringify(logFormat)}: use text or json`);

  const { reconcileMs, agentTimeoutMs, agentRetentionMs } = timings(pick);

  const product = String(pick("product") ?? "hello");
  if (!isValidProduct(product))
    throw new UsageError(
      `--product ${JSON.stringify(product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
    );

  const cert = pick("tlsCert");
  const key = pick("tlsKey");
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");

  const publicUrl = publicUrlOf(pick("publicUrl"), listen, cert ? "https" : "http");
  const jitter = Number(pick("jitterSeconds") ?? 60);
  if (!Number.isInteger(jitter) || jitter < 0 || jitter > 86400)
    throw new UsageError("agent_update_jitter_seconds: must be an integer 0..86400");
  // Client tools keep the answer at least 10 s and at most an hour, whatever a server says.
  const toolsCache = Number(pick("toolsCacheSeconds") ?? DEFAULT_TOOLS_CACHE_SECONDS);
  if (!Number.isInteger(toolsCache) || toolsCache < 10 || toolsCache > 3600)
    throw new UsageError("tools_cache_seconds: must be an integer 10..3600 (seconds)");

  const dataDir = resolve(String(pick("dataDir") ?? "./.upkeep"));
  const artifacts = artifactsOptions(pick, dataDir);

  return {
    hostname,
    port,
    dataDir,
    product,
    serverVersion: parsedSv ? formatVersion(parsedSv) : undefined,
    serverVersionFromFlag: parsedSv !== undefined,
    clusterName: String(pick("clusterName") ?? "upkeep"),
    edition,
    fips,
    reconcileMs,
    agentTimeoutMs,
    agentRetentionMs,
    ...(cert && key ? { tls: { cert: String(cert), key: String(key) } } : {}),
    publicUrl,
    publicUrlDerived: pick("publicUrl") === undefined,
    logFormat,
    jitterSeconds: jitter,
    toolsCacheSeconds: toolsCache,
    store: storeUrl(pick("store")),
    artifactsUrl: artifacts.url === undefined ? undefined : artifactsUrlOf(artifacts.url),
    artifactsDir: artifacts.dir,
    artifactsShared: artifacts.shared,
  };
}

/** How a setting is read: the flag, else the config file. */
type Picker = <K extends keyof ServeOptions>(k: K) => ServeOptions[K];

/** The reconcile interval, and how long agents count and are kept after their last report. */
function timings(pick: Picker): { reconcileMs: number; agentTimeoutMs: number; agentRetentionMs: number } {
  const reconcileMs = duration("--reconcile-interval", pick("reconcileInterval") ?? "30s");
  if (reconcileMs < 100) throw new UsageError("--reconcile-interval: must be at least 100ms");
  // Agents report every 5 minutes (plus up to agent_update_jitter_seconds before an update, plus the
  // download): an agent between two reports must still count, or a halt-on-error group could go `done`
  // without it (or skip its canaries). 20 minutes is four report intervals.
  const agentTimeoutMs = duration("--agent-timeout", pick("agentTimeout") ?? "20m");
  if (agentTimeoutMs < 3 * reconcileMs)
    throw new UsageError("--agent-timeout: must be at least three reconcile intervals", {
      hint: "and well above the agents' --interval (5m by default)",
    });

  const agentRetentionMs = duration("--agent-retention", pick("agentRetention") ?? "30d");
  if (agentRetentionMs < agentTimeoutMs)
    throw new UsageError("--agent-retention: must be at least --agent-timeout", {
      hint: "agents are deleted after the retention; they stop counting in rollouts after the timeout",
    });
  return { reconcileMs, agentTimeoutMs, agentRetentionMs };
}

/** Where artifacts are kept (checked here) and served from (`url`: as given, checked by artifactsUrlOf). */
function artifactsOptions(pick: Picker, dataDir: string): { dir: string; shared: boolean; url: unknown } {
  const artifactsDir = pick("artifactsDir");
  if (artifactsDir !== undefined && (typeof artifactsDir !== "string" || artifactsDir.trim() === ""))
    throw new UsageError("--artifacts-dir: must name a directory");
  const shared = pick("artifactsShared") ?? false;
  if (typeof shared !== "boolean")
    throw new UsageError(`artifacts_shared ${JSON.stringify(shared)}: use true or false`);
  const dir = artifactsDir === undefined ? join(dataDir, "artifacts") : resolve(artifactsDir);
  return { dir, shared, url: pick("artifactsUrl") };
}

/** `--store`: a PostgreSQL URL with a host and a database, or nothing (SQLite in the data dir). */
function storeUrl(given: unknown): string | undefined {
  if (given === undefined || given === null || given === "") return undefined;
  const text = String(given);
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  // Never echo what may hold a password: name the scheme only.
  const shown = u ? `${u.protocol}//${u.host}${u.pathname}` : "the value given";
  if (!u || (u.protocol !== "postgres:" && u.protocol !== "postgresql:"))
    throw new UsageError(`--store: ${shown} is not a postgres:// URL`, {
      hint: "use --store postgres://USER:PASSWORD@HOST:5432/DATABASE (UPKEEP_STORE, or store: in the config file); leave it out for SQLite in --data-dir",
    });
  if ((u.hostname === "" && !u.searchParams.get("host")) || u.pathname.replace(/^\//, "") === "")
    throw new UsageError(`--store: ${shown} needs a host and a database name`, {
      hint: "e.g. postgres://upkeep:PASSWORD@db.example.com:5432/upkeep",
    });
  return text;
}

/**
 * `--artifacts-url`: an absolute http(s) base URL that hosts append artifact names to, so no query, no
 * fragment, and no user or password (it is handed to every host, in install.sh and the find answers).
 */
export function artifactsUrlOf(given: unknown): string {
  const shown = JSON.stringify(given);
  const refuse = (why: string, hint?: string) =>
    new UsageError(`--artifacts-url ${shown}: ${why}`, {
      hint:
        hint ?? "e.g. --artifacts-url https://cdn.example.com/releases (where the release files are served)",
    });
  if (typeof given !== "string" || given.trim() === "") throw refuse("must be an http(s) URL");
  let u: URL;
  try {
    u = new URL(given);
  } catch {
    throw refuse("not a URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw refuse("not an http(s) URL");
  if (u.username !== "" || u.password !== "") {
    // Not repeated in the message (logs, terminals): the URL without them.
    u.username = "";
    u.password = "";
    throw new UsageError(
      `--artifacts-url ${JSON.stringify(u.toString())}: must not hold a user or password (every host is told this URL)`,
      {
        hint: "serve the releases publicly (they are signed) or restrict by network, not by a password in the URL",
      },
    );
  }
  if (u.search !== "" || u.hash !== "" || given.includes("?") || given.includes("#"))
    throw refuse("must not have a query or fragment: artifact names are appended to it");
  return u.toString().replace(/\/+$/, "");
}

/** What to warn about `--artifacts-url` at start, or undefined: plain http to a host other than loopback. */
export function artifactsUrlWarning(o: Pick<ResolvedOptions, "artifactsUrl">): string | undefined {
  if (o.artifactsUrl === undefined) return undefined;
  const u = new URL(o.artifactsUrl);
  if (u.protocol !== "http:" || isLoopbackHost(u.hostname)) return undefined;
  return `--artifacts-url ${o.artifactsUrl} is plain http: hosts refuse to download from it unless set up with --insecure (agent enable, tools login); serve it over https`;
}

function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new UsageError(`--listen ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
  return { hostname: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

function duration(flag: string, text: unknown): number {
  try {
    return parseDuration(String(text));
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

/** `--public-url`, or the URL of `--listen` when not given (and not a wildcard address). */
function publicUrlOf(given: string | undefined, listen: string, scheme: "http" | "https"): string {
  const { hostname, port } = parseListen(listen);
  // A wildcard address is where to listen, not where hosts reach us: install.sh and `agent enable` would
  // send every remote host to the wrong place.
  if ((hostname === "0.0.0.0" || hostname === "::") && given === undefined)
    throw new UsageError(
      `--listen ${listen} needs --public-url: the URL remote hosts use to reach this server (install.sh and agent enable hand it out)`,
      { hint: `e.g. --public-url ${scheme}://updates.example.com:${port}` },
    );
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const publicUrl = String(given ?? `${scheme}://${shownHost}:${port}`).replace(/\/+$/, "");
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
  } catch {
    throw new UsageError(`--public-url ${JSON.stringify(publicUrl)}: not an http(s) URL`);
  }
  return publicUrl;
}

/** Why `Bun.serve` could not start, as a refusal the operator can act on (exit 2, no stack). */
export function listenError(e: unknown, o: ResolvedOptions): UsageError {
  const code = errorCodeOf(e);
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
