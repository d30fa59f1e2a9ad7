/**
 * Builds a server from flags, a config file and the environment (serve_options.ts): data dir, store,
 * artifact store, tokens, rollout service, the Hono app and the find/ping hot path (hot_path.ts).
 * `cmd/serve.ts` puts it behind `Bun.serve`.
 */

import { hashFile } from "../core/sys/hash.ts";
import { UPKEEP_VERSION } from "../core/sys/self/build_info.ts";
import type { ServerInfo } from "../core/wire/mod.ts";
import { createApp, type SelfBinary } from "./app.ts";
import { type LocalArtifactStore, openArtifacts } from "./artifact_store.ts";
import { hotRoutes } from "./hot_path.ts";
import { type Lease, soleLease } from "./lease.ts";
import { createLogger, type LogFn } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { type OpenedStore, openStore } from "./open_store.ts";
import { PgLease } from "./pg_lease.ts";
import { Replica } from "./replica.ts";
import { RolloutService } from "./rollout_service.ts";
import { type ResolvedOptions, resolveOptions, type ServeOptions } from "./serve_options.ts";
import type { Store } from "./store.ts";
import { presetTokens, TokenChecker } from "./tokens.ts";

export interface Booted {
  options: ResolvedOptions;
  app: ReturnType<typeof createApp>;
  rollout: RolloutService;
  metrics: Metrics;
  log: LogFn;
  /** The store in use: SQLite in the data dir, or PostgreSQL (shown with its password masked). */
  store: Pick<OpenedStore, "store" | "kind" | "where">;
  /** The admin token when this start created it (printed once), else undefined. */
  newAdminToken?: string;
  /** `Bun.serve` routes answering find/ping without the router: precomputed body per group. */
  hotRoutes: ReturnType<typeof hotRoutes>;
  /**
   * Tells the server it listens, on which port (for `--listen HOST:0`; updates a derived public URL), and
   * stores the first-start admin token.
   */
  listening: (port: number) => Promise<void>;
  /** Stops the timers and closes the store (pending reports committed). */
  close: () => Promise<void>;
}

function platformName(): string {
  const os = process.platform === "darwin" ? "darwin" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return `upkeep-${os}-${arch}`;
}

/** Opens the store (PostgreSQL, or SQLite in the data dir) and builds the server. */
export async function boot(
  flags: ServeOptions,
  env: Record<string, string | undefined>,
  now: () => Date = () => new Date(),
): Promise<Booted> {
  // The store: --store, else UPKEEP_STORE, else store: in the config file, else SQLite in the data dir.
  const o = resolveOptions({ ...flags, store: flags.store ?? (env.UPKEEP_STORE || undefined) });
  const log = createLogger(o.logFormat, now);
  const opened = await openStore(o.store, {
    dataDir: o.dataDir,
    log,
    what: `upkeep serve --listen ${o.hostname}:${o.port}`,
  });
  const store = opened.store;
  const artifacts = openArtifacts(o, log);
  const tokens = new TokenChecker(store);

  const preset = await presetTokens(store, env, now, log);
  tokens.invalidate();

  // Replicas on PostgreSQL: one reconciles at a time (the lease, tried before the first reconcile, so a
  // replica alone leads at once), each follows the others' changes (Replica). SQLite: alone, always leads.
  const shared = opened.kind === "postgres";
  const lease: Lease = shared && o.store ? await PgLease.start({ url: o.store, log }) : soleLease;
  const rollout = await startRollout(o, store, artifacts, log, now, { lease, shared });
  const replica = shared ? await Replica.start({ store, rollout, tokens, lease, log }) : undefined;
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
    store: { store, kind: opened.kind, where: opened.where },
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
    close: async () => {
      stopPruning();
      rollout.close();
      await replica?.close();
      await lease.close();
      await opened.close();
    },
  };
}

/** The rollout service over the store, loaded (resources, rollout, the agents that count now). */
async function startRollout(
  o: ResolvedOptions,
  store: Store,
  artifacts: LocalArtifactStore,
  log: LogFn,
  now: () => Date,
  cluster: { lease: Lease; shared: boolean },
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
    ownVersion: UPKEEP_VERSION,
    now,
    presenceMs: o.agentTimeoutMs,
    retentionMs: o.agentRetentionMs,
    readArtifact: (name) => artifacts.readText(name),
    log,
    lease: cluster.lease,
    shared: cluster.shared,
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
