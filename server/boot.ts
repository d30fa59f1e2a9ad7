/**
 * Builds a server from flags, a config file and the environment (serve_options.ts): data dir, store,
 * artifact store, tokens, rollout service, the Hono app and the find/ping hot path (hot_path.ts).
 * `cmd/serve.ts` puts it behind `Bun.serve`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UpkeepError } from "../core/errors.ts";
import { hashFile } from "../core/sys/hash.ts";
import { errorCodeOf } from "../core/sys/io_error.ts";
import { acquireLock } from "../core/sys/lock.ts";
import type { ServerInfo } from "../core/wire/mod.ts";
import { createApp, type SelfBinary } from "./app.ts";
import { type LocalArtifactStore, openArtifacts, storeTarget } from "./artifact_store.ts";
import { hotRoutes } from "./hot_path.ts";
import { createLogger, type LogFn } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { RolloutService } from "./rollout_service.ts";
import { type ResolvedOptions, resolveOptions, type ServeOptions } from "./serve_options.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { presetTokens, TokenChecker } from "./tokens.ts";

export interface Booted {
  options: ResolvedOptions;
  app: ReturnType<typeof createApp>;
  rollout: RolloutService;
  metrics: Metrics;
  log: LogFn;
  /** The admin token when this start created it (printed once), else undefined. */
  newAdminToken?: string;
  /** `Bun.serve` routes answering find/ping without the router: precomputed body per group. */
  hotRoutes: ReturnType<typeof hotRoutes>;
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
  return /^(EACCES|EPERM|EROFS)$/.test(errorCodeOf(e) ?? "");
}

/** Opens the data dir and builds the server. */
export async function boot(
  flags: ServeOptions,
  env: Record<string, string | undefined>,
  now: () => Date = () => new Date(),
): Promise<Booted> {
  const o = resolveOptions(flags);
  const log = createLogger(o.logFormat, now);
  const { store, dirLock } = await openDataDir(o, log);
  // The store target: i15store's option, read defensively until it lands.
  const storeUrl = storeTarget(
    (o as { store?: unknown }).store,
    (flags as { store?: unknown }).store,
    env.UPKEEP_STORE,
  );
  const artifacts = openArtifacts({ ...o, store: storeUrl }, log);
  const tokens = new TokenChecker(store);

  const preset = await presetTokens(store, env, now, log);
  tokens.invalidate();

  const rollout = await startRollout(o, store, artifacts, log, now);
  const metrics = new Metrics();
  const stopPruning = prunePeriodically(rollout, o.agentRetentionMs, log);

  const app = createApp({
    store,
    artifacts,
    tokens,
    rollout,
    metrics,
    publicUrl: () => o.publicUrl,
    self: selfBinary(),
    now,
    log,
  });

  return {
    options: o,
    app,
    rollout,
    metrics,
    log,
    ...(preset.newAdminToken ? { newAdminToken: preset.newAdminToken } : {}),
    hotRoutes: hotRoutes(rollout, metrics),
    listening: async (port: number) => {
      await preset.keepNewAdmin();
      tokens.invalidate();
      if (o.publicUrlDerived && o.port === 0) {
        const u = new URL(o.publicUrl);
        u.port = String(port);
        o.publicUrl = u.origin;
      }
      o.port = port;
    },
    close: () => {
      stopPruning();
      rollout.close();
      store.close();
      dirLock.release();
    },
  };
}

/** The rollout service over the store, loaded (resources, rollout, the agents that count now). */
async function startRollout(
  o: ResolvedOptions,
  store: SqliteStore,
  artifacts: LocalArtifactStore,
  log: LogFn,
  now: () => Date,
): Promise<RolloutService> {
  const info: ServerInfo = {
    product: o.product,
    clusterName: o.clusterName,
    edition: o.edition,
    fips: o.fips,
    jitterSeconds: o.jitterSeconds,
    toolsCacheSeconds: o.toolsCacheSeconds,
    ...(o.artifactsUrl === undefined ? {} : { artifactsUrl: o.artifactsUrl }),
  };
  const rollout = new RolloutService({
    store,
    info,
    serverVersion: o.serverVersion,
    serverVersionFromFlag: o.serverVersionFromFlag,
    now,
    presenceMs: o.agentTimeoutMs,
    retentionMs: o.agentRetentionMs,
    readArtifact: (name) => artifacts.readText(name),
    log,
  });
  await rollout.load();
  if (rollout.serverVersion() === undefined)
    log(
      "server_version is not set: no cap and no raise, agents and client tools get autoupdate_version's versions as given (a product with a control plane sets it: serve --server-version X, or `upkeep admin apply` of kind: server)",
    );
  return rollout;
}

/**
 * Deletes agents gone for longer than the retention: soon after start, then every tenth of the retention
 * (at most hourly, at least every second), off the request path. Answers how to stop it.
 */
function prunePeriodically(rollout: RolloutService, retentionMs: number, log: LogFn): () => void {
  const prune = () => {
    rollout.prune().catch((e) => log("pruning agents failed", { error: String(e) }));
  };
  const period = Math.max(1000, Math.min(retentionMs / 10, 3_600_000));
  const first = setTimeout(prune, Math.min(period, 60_000));
  const every = setInterval(prune, period);
  first.unref?.();
  every.unref?.();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}

/** Creates and locks the data dir (one server per data dir), and opens its database. */
async function openDataDir(
  o: ResolvedOptions,
  log: LogFn,
): Promise<{ store: SqliteStore; dirLock: { release(): void } }> {
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
  try {
    const store = new SqliteStore(join(o.dataDir, "upkeep.db"), {
      onUnavailable: (e) => log(`database unavailable: ${e.message}`, { file: e.file, hint: e.hint }),
    });
    return { store, dirLock };
  } catch (e) {
    dirLock.release();
    throw e;
  }
}

/** This executable, served at /download for install.sh; its sha256 computed once (a failed read is retried). */
function selfBinary(): SelfBinary {
  const path = process.execPath;
  let sha: Promise<string> | undefined;
  return {
    name: platformName(),
    path,
    sha256: () => {
      sha ??= hashFile(path, ["sha256"])
        .then((r) => r.sha256 ?? "")
        .catch((e) => {
          sha = undefined;
          throw e;
        });
      return sha;
    },
  };
}
