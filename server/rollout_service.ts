/**
 * The server's live state: resources, server version, rollout, agents. Decisions come from the pure core
 * (core/rollout); this class loads and persists state, drives the reconciler and the operator actions.
 * The agents are kept and counted by fleet.ts (the reconciler reads their counts, never walks them).
 * What it answers is built elsewhere from its state: the find/ping bodies (answers.ts, precomputed per group
 * by find_cache.ts, which every change invalidates), the API views (views.ts), /metrics
 * (rollout_metrics.ts); the published manifest is read by published_manifest.ts.
 *
 * Replicas (issue 15): several servers share one store. Every write of the rollout is a compare-and-swap on
 * its generation (`Store.casRollout`, events in the same transaction): a write over a rollout another
 * replica moved is refused, and this one re-reads it and decides again over it, never overwriting. The
 * reconciler of the timer, of reports and of other replicas' changes runs only on the replica holding the
 * lease (`Lease`); an operator's write (resource, action, flag) reconciles on the replica that took it, as a
 * server alone does, through the same compare-and-swap. What other replicas change reaches this one by
 * `refresh` (server/replica.ts calls it on each notification, and every few seconds).
 */
import { UpkeepError } from "../core/errors.ts";
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  defaultAutoupdateConfig,
  formatAutoupdateConfig,
  formatAutoupdateVersion,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "../core/resources/mod.ts";
import * as engine from "../core/rollout/mod.ts";
import { resolveGroup } from "../core/rollout/mod.ts";
import type { Rollout, RolloutEvent } from "../core/rollout/types.ts";
import { SELF_PRODUCT } from "../core/trust/artifact_name.ts";
import { manifestFileName } from "../core/trust/manifest.ts";
import type {
  AgentsPage,
  GroupAction,
  ReleasesView,
  RolloutView,
  ServerInfo,
  ServerView,
} from "../core/wire/mod.ts";
import { groupAnswers, type RolloutState } from "./answers.ts";
import { FindCache } from "./find_cache.ts";
import { Fleet, type FleetOptions } from "./fleet.ts";
import { type Lease, soleLease } from "./lease.ts";
import type { Metrics } from "./metrics.ts";
import { PublishedManifest } from "./published_manifest.ts";
import { exportRolloutMetrics } from "./rollout_metrics.ts";
import { ACTIONS, logEvents, refuseDropped, storedEvents } from "./rollout_writes.ts";
import {
  type AgentRecord,
  type Store,
  type RolloutEvent as StoredEvent,
  StoreUnavailableError,
} from "./store.ts";
import { rolloutView, serverView, type UpdaterAnswer } from "./views.ts";

/** The `updater_version` setting: `auto` (default), `off`, or a pinned version. */
export const UPDATER_AUTO = "auto";
export const UPDATER_OFF = "off";

/** Besides these: the agents' presence window, retention and reconciles per report (`FleetOptions`). */
export interface RolloutServiceOptions
  extends Pick<FleetOptions, "presenceMs" | "retentionMs" | "reconcileGapMs" | "shared"> {
  store: Store;
  info: ServerInfo;
  /**
   * Used when nothing is stored yet (`--server-version`, config file). undefined and nothing stored: there
   * is no control plane version, so no cap and no raise: agents and tools get the rollout's versions as
   * given (and nothing at all until an autoupdate_version names them).
   */
  serverVersion: string | undefined;
  /** A flag given at start-up wins over the stored value. */
  serverVersionFromFlag?: boolean;
  /**
   * This server's own upkeep version: by default agents' updaters are told to run it once the published
   * upkeep-releases.json lists it (DESIGN §9). undefined: no default (an admin may still pin one).
   */
  ownVersion?: string;
  now: () => Date;
  random?: () => number;
  /** Reads a stored artifact's text (the release manifest), or undefined when there is none. */
  readArtifact?: (name: string) => Promise<string | undefined>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Who runs the reconciler and pruning: one replica at a time. Default: this server alone, always. */
  lease?: Lease;
}

/** What `refresh` re-reads: everything, or what a store notification named ("resource:KIND", ...). */
export type RefreshWhat = "all" | ReadonlySet<string>;

/** A write the rollout refused this many times in a row (other replicas writing): given up, said so. */
const CAS_TRIES = 5;

export class RolloutService {
  readonly #o: RolloutServiceOptions;
  #config: AutoupdateConfig = defaultAutoupdateConfig();
  #version: AutoupdateVersion | undefined;
  #serverVersion: string | undefined;
  #rollout: Rollout | undefined;
  /** The stored rollout's generation this one was read at or written as (0: none stored yet). */
  #generation = 0;
  readonly #lease: Lease;
  readonly #fleet: Fleet;
  /** Serializes reconciles: each reads the state the one before it left. */
  #reconciling: Promise<void> = Promise.resolve();
  /** Versions an operator flagged critical (POST /v1/releases). */
  #critical = new Set<string>();
  readonly #manifest: PublishedManifest;
  /** upkeep's own published manifest (upkeep-releases.json): the updater versions hosts can install. */
  readonly #selfManifest: PublishedManifest;
  /** `kind: server` `updater_version`: auto, off or a version. */
  #updaterSetting = UPDATER_AUTO;
  /** Replicas: the sha256 of the stored release manifest as last read (`refresh` reads it again when it moves). */
  #manifestSha: string | undefined;
  #ready = false;
  readonly #finds: FindCache;
  #lastReconcileMs = 0;
  /** The events as last read (what `view` answers while the database is away). */
  #events: StoredEvent[] = [];
  #reconcileCount = 0;

  constructor(o: RolloutServiceOptions) {
    this.#o = o;
    this.#lease = o.lease ?? soleLease;
    this.#serverVersion = o.serverVersion;
    this.#manifest = new PublishedManifest(o.info.product, o.log);
    this.#selfManifest = new PublishedManifest(SELF_PRODUCT, o.log);
    this.#fleet = new Fleet(this.#config, {
      ...o,
      decides: (group) => {
        const state = this.#rollout?.groups.find((g) => g.name === group)?.state;
        return state === "canary" || state === "active";
      },
      reconcile: () => this.reconcile(),
    });
    this.#finds = new FindCache((group, now) =>
      groupAnswers(this.#state(), o.info, group, now, (e) =>
        o.log("find: internal error, answering do-not-update", { group, error: String(e) }),
      ),
    );
  }

  async load(): Promise<void> {
    const { store } = this.#o;
    const config = await store.getResource("autoupdate_config");
    if (config !== undefined) this.#config = parseAutoupdateConfig(config);
    const version = await store.getResource("autoupdate_version");
    if (version !== undefined) this.#version = parseAutoupdateVersion(version);
    const sv = await store.getSetting("server_version");
    if (sv && !this.#o.serverVersionFromFlag) this.#serverVersion = sv;
    else if (this.#serverVersion !== undefined) await store.putSetting("server_version", this.#serverVersion);
    const critical = await store.getSetting("critical_versions");
    if (critical) for (const v of JSON.parse(critical) as string[]) this.#critical.add(v);
    if (this.#o.shared) this.#manifestSha = await this.#manifestStored();
    await this.#manifest.read(this.#o.readArtifact, this.#o.now());
    this.#updaterSetting = (await store.getSetting("updater_version")) ?? UPDATER_AUTO;
    if (this.#o.info.product !== SELF_PRODUCT)
      await this.#selfManifest.read(this.#o.readArtifact, this.#o.now());
    await this.#readRollout();
    await this.#fleet.load(this.#config);
    await this.reconcile();
    this.#ready = true;
  }

  /** Reads the stored rollout and its generation (what another replica wrote, or a refused write's winner). */
  async #readRollout(): Promise<boolean> {
    const st = await this.#o.store.getRolloutState();
    const generation = st?.generation ?? 0;
    if (generation === this.#generation) return false;
    this.#rollout = (st?.value ?? undefined) as Rollout | undefined;
    this.#generation = generation;
    this.#finds.invalidate();
    return true;
  }

  /**
   * Re-reads what other replicas may have changed (`what`: all, or what a notification named), after any
   * reconcile or action in progress. Anything changed: the find answers are computed again, and the lease
   * holder reconciles over it. A store that cannot be read throws, and nothing held changes.
   */
  async refresh(what: RefreshWhat): Promise<void> {
    let changed = false;
    await this.#serial(async () => {
      changed = await this.#refreshOnce(what);
    });
    if (changed && this.#lease.held()) await this.reconcile();
  }

  async #refreshOnce(what: RefreshWhat): Promise<boolean> {
    const { store } = this.#o;
    const has = (k: string) => what === "all" || what.has(k);
    let changed = false;
    if (has("resource:autoupdate_config")) {
      const stored = await store.getResource("autoupdate_config");
      const next = stored === undefined ? defaultAutoupdateConfig() : parseAutoupdateConfig(stored);
      if (
        JSON.stringify(formatAutoupdateConfig(next)) !== JSON.stringify(formatAutoupdateConfig(this.#config))
      ) {
        this.#config = next;
        this.#fleet.setConfig(next);
        changed = true;
      }
    }
    if (has("resource:autoupdate_version")) {
      const stored = await store.getResource("autoupdate_version");
      const next = stored === undefined ? undefined : parseAutoupdateVersion(stored);
      const same = (v: AutoupdateVersion | undefined) =>
        v ? JSON.stringify(formatAutoupdateVersion(v)) : "";
      if (same(next) !== same(this.#version)) {
        this.#version = next;
        changed = true;
      }
    }
    if (has("setting:server_version")) {
      const sv = await store.getSetting("server_version");
      if (sv && sv !== this.#serverVersion) {
        this.#serverVersion = sv;
        changed = true;
      }
    }
    if (has("setting:critical_versions")) {
      const stored = await store.getSetting("critical_versions");
      const next = new Set(stored ? (JSON.parse(stored) as string[]) : []);
      if ([...next].sort().join() !== [...this.#critical].sort().join()) {
        this.#critical = next;
        changed = true;
      }
    }
    if (has("artifacts") && (await this.#manifestStored()) !== this.#manifestSha) {
      // Another replica published a manifest (the stored sha256 moved): read it (once per publication).
      this.#manifestSha = await this.#manifestStored();
      if (await this.#manifest.read(this.#o.readArtifact, this.#o.now())) changed = true;
    }
    if (changed) this.#finds.invalidate();
    if (has("rollout") && (await this.#readRollout())) changed = true;
    return changed;
  }

  /** The sha256 of the release manifest the store lists, or undefined when none is published. */
  async #manifestStored(): Promise<string | undefined> {
    return (await this.#o.store.getArtifact(manifestFileName(this.#o.info.product)))?.sha256;
  }

  /** Replicas: counts the reports the other replicas received (Fleet.sync); a server alone has none. */
  syncAgents(): Promise<void> {
    return this.#fleet.sync();
  }

  /** Whether this replica runs the reconciler now. */
  leads(): boolean {
    return this.#lease.held();
  }

  ready(): boolean {
    return this.#ready;
  }

  // ---- resources ----

  getConfig(): Record<string, unknown> {
    return formatAutoupdateConfig(this.#config);
  }

  getVersion(): Record<string, unknown> | { kind: "autoupdate_version"; spec: Record<string, never> } {
    return this.#version ? formatAutoupdateVersion(this.#version) : { kind: "autoupdate_version", spec: {} };
  }

  /**
   * Stores a new `autoupdate_config`. With `doc` (the document as sent), a document that leaves out a
   * section the stored config sets is refused (`droppedSections`: E_BAD_RESOURCE naming it), not applied.
   */
  async putConfig(config: AutoupdateConfig, doc?: unknown): Promise<void> {
    if (doc !== undefined) refuseDropped("autoupdate_config", this.#config, doc);
    await this.#o.store.putResource("autoupdate_config", formatAutoupdateConfig(config));
    this.#config = config;
    this.#fleet.setConfig(config);
    this.#o.log("autoupdate_config updated");
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** Stores a new `autoupdate_version`; `doc` as for `putConfig`. */
  async putVersion(version: AutoupdateVersion, doc?: unknown): Promise<void> {
    if (doc !== undefined) refuseDropped("autoupdate_version", this.#version, doc);
    await this.#o.store.putResource("autoupdate_version", formatAutoupdateVersion(version));
    this.#version = version;
    this.#o.log("autoupdate_version updated", {
      start: version.spec.agents?.startVersion,
      target: version.spec.agents?.targetVersion,
    });
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** The control plane's version, or undefined while nobody has set it. */
  serverVersion(): string | undefined {
    return this.#serverVersion;
  }

  serverInfo(): ServerView {
    return serverView(this.#o.info, this.#serverVersion, this.#o.ownVersion, this.updater());
  }

  /**
   * The upkeep version agents' updaters are told to run (find `upkeep.updater_version`), and why: `off`
   * none; a pinned version; `auto` this server's own version once the published upkeep-releases.json lists
   * it (the server hosts that release), else none.
   */
  updater(): UpdaterAnswer {
    const setting = this.#updaterSetting;
    if (setting === UPDATER_OFF)
      return { setting, version: "", reason: "off: the admin turned the updaters' self-update off" };
    if (setting !== UPDATER_AUTO)
      return { setting, version: setting, reason: `pinned by the admin to ${setting}` };
    const own = this.#o.ownVersion;
    const listed = this.#selfManifest.versions;
    if (own === undefined)
      return {
        setting,
        version: "",
        reason: "this server's own version is not known: pin one to self-update",
      };
    if (listed === undefined)
      return {
        setting,
        version: "",
        reason: `no upkeep-releases.json is published on this server: agents keep their updater (publish upkeep ${own} to have them follow this server)`,
      };
    if (!listed.includes(own))
      return {
        setting,
        version: "",
        reason: `the published upkeep-releases.json does not list this server's version ${own}: agents keep their updater`,
      };
    return { setting, version: own, reason: `this server's own version, published in upkeep-releases.json` };
  }

  /** The upkeep versions the published upkeep-releases.json lists, or undefined when none is published. */
  publishedUpdaterVersions(): string[] | undefined {
    return this.#selfManifest.versions;
  }

  /** Stores the `updater_version` setting: `auto`, `off` or a version. */
  async setUpdaterVersion(v: string): Promise<void> {
    await this.#o.store.putSetting("updater_version", v);
    this.#updaterSetting = v;
    this.#o.log("updater_version updated", { updater_version: v, now: this.updater().version || "none" });
    this.#finds.invalidate();
  }

  async setServerVersion(v: string): Promise<void> {
    await this.#o.store.putSetting("server_version", v);
    this.#serverVersion = v;
    this.#o.log("server_version updated", { server_version: v });
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  async setCritical(version: string, critical: boolean): Promise<void> {
    const next = new Set(this.#critical);
    if (critical) next.add(version);
    else next.delete(version);
    // Stored first: a refused write changes nothing in memory either.
    await this.#o.store.putSetting("critical_versions", JSON.stringify([...next].sort()));
    this.#critical = next;
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** A release or manifest was uploaded: re-read the manifest's critical flags. */
  async artifactsChanged(): Promise<void> {
    const updater = this.updater().version;
    if (this.#o.info.product !== SELF_PRODUCT)
      await this.#selfManifest.read(this.#o.readArtifact, this.#o.now());
    if (this.updater().version !== updater) this.#finds.invalidate();
    if (await this.#manifest.read(this.#o.readArtifact, this.#o.now())) {
      this.#finds.invalidate();
      await this.#reconcileNow();
    }
  }

  #isCritical(version: string): boolean {
    return this.#critical.has(version) || this.#manifest.critical.has(version);
  }

  /** Flagged critical by an operator or by the published manifest. */
  #allCritical(): string[] {
    return [...new Set([...this.#critical, ...this.#manifest.critical])].sort();
  }

  async releases(): Promise<ReleasesView> {
    return {
      product: this.#o.info.product,
      critical: this.#allCritical(),
      manifest: this.#manifest.view(this.#o.now()),
      artifacts: await this.#o.store.listArtifacts(),
    };
  }

  /** The versions the published release manifest lists, or undefined when none is published (or parses). */
  publishedVersions(): string[] | undefined {
    return this.#manifest.versions;
  }

  // ---- agents ----

  /** Keeps and counts an agent's report; one that can change a decision asks for a reconcile (Fleet). */
  report(r: AgentRecord): Promise<void> {
    return this.#fleet.report(r);
  }

  /** `GET /v1/agents`: one page of agents, filtered by the store, and how many match. */
  agents(params: Record<string, string | undefined>): Promise<AgentsPage> {
    return this.#fleet.page(params);
  }

  /** The dashboard's reads: pages of agents from the store, the present ones' counts, all agents once. */
  fleetReads(): Pick<Fleet, "query" | "counts" | "all"> {
    return this.#fleet;
  }

  /** Deletes agents not seen for the retention from the store; answers how many (only the lease holder). */
  async prune(): Promise<number> {
    return this.#lease.held() ? await this.#fleet.prune() : 0;
  }

  // ---- rollout ----

  /**
   * Runs the reconciler once, after any run in progress: pure decisions from the core (over the counts
   * kept as reports came), then persistence and logging. Only while this replica holds the lease (a
   * server alone always does); else it does nothing.
   */
  reconcile(): Promise<void> {
    return this.#serial(() => (this.#lease.held() ? this.#reconcileOnce() : Promise.resolve()));
  }

  /** An operator's write reconciles where it was taken, lease or not (compare-and-swap all the same). */
  #reconcileNow(): Promise<void> {
    return this.#serial(() => this.#reconcileOnce(true));
  }

  /** Runs `fn` after every reconcile and action before it: each reads the rollout the one before left. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#reconciling.then(fn);
    this.#reconciling = run.catch(() => {});
    return run;
  }

  /** `fresh`: an operator's write: the counts read again first, whenever they last were (replicas). */
  async #reconcileOnce(fresh = false): Promise<void> {
    await this.#fleet.beforeReconcile(fresh);
    const t0 = performance.now();
    const now = this.#o.now();
    for (let tries = 1; ; tries++) {
      const { next, events } = this.#decide(now);
      // The core returns the same rollout object when nothing changed: the precomputed answers stay valid
      // (clock-dependent ones expire on their own). Callers that change other inputs invalidate first.
      if (next === this.#rollout && events.length === 0) break;
      if (await this.#write(next, events)) break;
      // Another replica wrote the rollout since this one read it: decide again over what it wrote.
      await this.#readRollout();
      if (tries >= CAS_TRIES) {
        this.#o.log("reconcile: the rollout kept changing under this replica; trying again later", {
          tries,
        });
        break;
      }
    }
    this.#manifest.warnExpiry(now);
    this.#selfManifest.warnExpiry(now);
    this.#lastReconcileMs = performance.now() - t0;
    this.#reconcileCount++;
  }

  /** The core's decision over the state held now. */
  #decide(now: Date): { next: Rollout | undefined; events: RolloutEvent[] } {
    const agents = this.#version?.spec.agents;
    if (!agents) return { next: undefined, events: [] };
    const r = engine.reconcile({
      config: this.#config,
      version: this.#version,
      rollout: this.#rollout,
      counted: (g) => this.#fleet.group(g),
      serverVersion: this.#serverVersion,
      now,
      random: this.#o.random ?? Math.random,
      critical: this.#isCritical(agents.targetVersion),
    });
    return { next: r.rollout, events: r.events };
  }

  /**
   * Stores `next` with its events over the generation this replica read (one transaction), then holds it.
   * False: another replica wrote first, nothing was written. Stored first: when the store refuses, the
   * rollout does not move (answers stay what is stored).
   */
  async #write(next: Rollout | undefined, events: RolloutEvent[]): Promise<boolean> {
    const ok = await this.#o.store.casRollout(this.#generation, next ?? null, storedEvents(events));
    if (!ok) return false;
    this.#rollout = next;
    this.#generation++;
    this.#finds.invalidate();
    logEvents(this.#o.log, events);
    return true;
  }

  action(group: string, action: GroupAction): Promise<void> {
    return this.#serial(() => this.#act(group, action));
  }

  async #act(group: string, action: GroupAction): Promise<void> {
    const now = this.#o.now();
    // Replicas: the action applies to the rollout as stored now, not as last heard of.
    if (this.#o.shared) await this.#readRollout();
    for (let tries = 1; ; tries++) {
      if (!this.#rollout) {
        throw new UpkeepError(
          "E_CONFLICT",
          "no rollout in progress: set autoupdate_version spec.agents first",
        );
      }
      const input = { rollout: this.#rollout, group, now, config: this.#config };
      const { rollout, event } = ACTIONS[action](input);
      if (await this.#write(rollout, [event])) break;
      // Another replica moved the rollout: the action again, over what it wrote (it may now be refused).
      await this.#readRollout();
      if (tries >= CAS_TRIES)
        throw new UpkeepError(
          "E_CONFLICT",
          `the rollout kept changing while ${action} ${group} was applied (other replicas writing): nothing was changed`,
          { hint: "try again" },
        );
    }
    await this.#reconcileOnce(true);
    const after = this.#rollout?.groups.find((g) => g.name === group);
    if (action === "start" && after?.state === "rolledback") {
      throw new UpkeepError("E_CONFLICT", `group ${group} rolled back again at once: ${after.reason}`, {
        hint: `agents still report failures on ${this.#rollout?.targetVersion}; use force to proceed anyway, or fix the release`,
      });
    }
  }

  /**
   * What applying `next` would tell each group and client tools, over the server's current state (stored
   * rollout, present agents, critical flags, the published manifest's versions): `planAnswers` in core.
   * Whatever `next` leaves out is taken as it is now. Changes nothing (for `admin apply --dry-run`, and the
   * refusal of versions that are not published).
   */
  plan(
    next: { config?: AutoupdateConfig; version?: AutoupdateVersion; serverVersion?: string } = {},
  ): engine.PlanAnswers {
    return engine.planAnswers({
      config: next.config ?? this.#config,
      version: next.version ?? this.#version,
      serverVersion: next.serverVersion ?? this.#serverVersion,
      published: this.#manifest.versions,
      rollout: this.#rollout,
      counted: (g) => this.#fleet.group(g),
      now: this.#o.now(),
      critical: this.#allCritical(),
    });
  }

  /** `GET /v1/rollout`: the stored rollout and what each group and client tools are told now. */
  async view(): Promise<RolloutView> {
    // What an operator reads is the rollout as of now: counts and transitions not yet reconciled included
    // (on a replica without the lease: as the lease holder last stored it). Replicas: the stored rollout
    // is read first, so a write just answered by another replica shows here too, notification or not.
    // Reads keep answering when the store refuses writes, or cannot be read (the store logs that).
    if (this.#o.shared) await this.#serial(async () => void (await this.#readRollout())).catch(() => {});
    if (this.#lease.held()) await this.reconcile().catch(() => {});
    try {
      this.#events = await this.#o.store.listEvents(100);
    } catch (e) {
      // The database away (replicas): the events as last read; anything else is a failure to say.
      if (!(e instanceof StoreUnavailableError)) throw e;
    }
    return rolloutView(this.#state(), this.#o.now().getTime(), this.#events);
  }

  #state(): RolloutState {
    return {
      config: this.#config,
      version: this.#version,
      rollout: this.#rollout,
      serverVersion: this.#serverVersion,
      isCritical: (v) => this.#isCritical(v),
      updaterVersion: this.updater().version,
    };
  }

  // ---- find / ping ----

  /** The JSON body of `/webapi/find` for an agent of `group` (unknown: the last group). Never throws. */
  findBody(group: string, updaterId: string): string {
    let resolved: string;
    try {
      resolved = resolveGroup(this.#config, group).name;
    } catch {
      resolved = group;
    }
    return this.#finds.body(resolved, updaterId, this.#o.now().getTime());
  }

  /** Stops the timers (a folded reconcile not yet run is dropped). */
  close(): void {
    this.#fleet.close();
  }

  exportMetrics(m: Metrics): void {
    exportRolloutMetrics(m, {
      config: this.#config,
      rollout: this.#rollout,
      present: this.#fleet.counts(),
      updaters: this.#fleet.updaters(),
      pruned: this.#fleet.pruned,
      lastReconcileMs: this.#lastReconcileMs,
      reconcileCount: this.#reconcileCount,
      finds: this.#finds.counts(),
    });
  }
}
