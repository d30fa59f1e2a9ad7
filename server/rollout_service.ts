/**
 * The server's live state, and the reconciler and operator actions over it. Decisions come from the pure
 * core (core/rollout), over the inputs (rollout_inputs.ts: resources, server version, critical flags,
 * published manifests, the updater setting), the stored rollout (rollout_record.ts) and the agents' counts
 * (fleet.ts). What it answers is built elsewhere from its state: the find/ping bodies (answers.ts, precomputed
 * per group by find_cache.ts, which every change invalidates), the API views (views.ts), /metrics.
 *
 * Replicas (issue 15): several servers share one store. The rollout is written by compare-and-swap
 * (RolloutRecord). The reconciler of the timer, of reports and of other replicas' changes runs only on the
 * replica holding the lease (`Lease`); an operator's write (resource, action, flag) reconciles on the replica
 * that took it, as a server alone does. What other replicas change reaches this one by `refresh`
 * (server/replica.ts calls it on each notification, and every few seconds).
 */
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  formatAutoupdateConfig,
  formatAutoupdateVersion,
} from "../core/resources/mod.ts";
import * as engine from "../core/rollout/mod.ts";
import { resolveGroup } from "../core/rollout/mod.ts";
import type { Rollout } from "../core/rollout/types.ts";
import type { AgentsPage, GroupAction, ReleasesView, RolloutView, ServerView } from "../core/wire/mod.ts";
import { groupAnswers, type RolloutState } from "./answers.ts";
import { FindCache } from "./find_cache.ts";
import { Fleet, type FleetOptions } from "./fleet.ts";
import { type Lease, soleLease } from "./lease.ts";
import type { Metrics } from "./metrics.ts";
import { RolloutInputs, type RolloutInputsOptions } from "./rollout_inputs.ts";
import { exportRolloutMetrics } from "./rollout_metrics.ts";
import { CAS_TRIES, type RolloutChange, RolloutRecord } from "./rollout_record.ts";
import { actionChange, keptChanging, refuseRolledBackAgain } from "./rollout_writes.ts";
import { type AgentRecord, type RolloutEvent as StoredEvent, StoreUnavailableError } from "./store.ts";
import { rolloutView, serverView, type UpdaterAnswer } from "./views.ts";

export { UPDATER_AUTO, UPDATER_OFF } from "./updater_setting.ts";

/** Besides these: the agents' presence window, retention and reconciles per report (`FleetOptions`). */
export interface RolloutServiceOptions
  extends RolloutInputsOptions,
    Pick<FleetOptions, "presenceMs" | "retentionMs" | "reconcileGapMs" | "shared"> {
  random?: () => number;
  /** Who runs the reconciler and pruning: one replica at a time. Default: this server alone, always. */
  lease?: Lease;
}

/** What `refresh` re-reads: everything, or what a store notification named ("resource:KIND", ...). */
export type RefreshWhat = "all" | ReadonlySet<string>;

export class RolloutService {
  readonly #o: RolloutServiceOptions;
  readonly #inputs: RolloutInputs;
  readonly #record: RolloutRecord;
  readonly #lease: Lease;
  readonly #fleet: Fleet;
  /** Serializes reconciles: each reads the state the one before it left. */
  #reconciling: Promise<void> = Promise.resolve();
  #ready = false;
  readonly #finds: FindCache;
  #lastReconcileMs = 0;
  /** The events as last read (what `view` answers while the database is away). */
  #events: StoredEvent[] = [];
  #reconcileCount = 0;

  constructor(o: RolloutServiceOptions) {
    this.#o = o;
    this.#lease = o.lease ?? soleLease;
    this.#inputs = new RolloutInputs(o, (config) => this.#fleet.setConfig(config));
    this.#record = new RolloutRecord(o.store, o.log, () => this.#finds.invalidate());
    this.#fleet = new Fleet(this.#inputs.config, {
      ...o,
      decides: (group) => {
        const state = this.#record.current?.groups.find((g) => g.name === group)?.state;
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
    await this.#inputs.load();
    await this.#record.read();
    await this.#fleet.load(this.#inputs.config);
    await this.reconcile();
    this.#ready = true;
  }

  /**
   * Re-reads what other replicas may have changed (`what`: all, or what a notification named), after any
   * reconcile or action in progress. Anything changed: the find answers are computed again, and the lease
   * holder reconciles over it. A store that cannot be read throws, and nothing held changes.
   */
  async refresh(what: RefreshWhat): Promise<void> {
    let changed = false;
    await this.#serial(async () => {
      const has = (k: string) => what === "all" || what.has(k);
      changed = await this.#inputs.refresh(has);
      if (changed) this.#finds.invalidate();
      if (has("rollout") && (await this.#record.read())) changed = true;
    });
    if (changed && this.#lease.held()) await this.reconcile();
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
    return formatAutoupdateConfig(this.#inputs.config);
  }

  getVersion(): Record<string, unknown> | { kind: "autoupdate_version"; spec: Record<string, never> } {
    const version = this.#inputs.version;
    return version ? formatAutoupdateVersion(version) : { kind: "autoupdate_version", spec: {} };
  }

  /**
   * Stores a new `autoupdate_config`. With `doc` (the document as sent), a document that leaves out a
   * section the stored config sets is refused (`droppedSections`: E_BAD_RESOURCE naming it), not applied.
   */
  async putConfig(config: AutoupdateConfig, doc?: unknown): Promise<void> {
    await this.#inputs.putConfig(config, doc);
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** Stores a new `autoupdate_version`; `doc` as for `putConfig`. */
  async putVersion(version: AutoupdateVersion, doc?: unknown): Promise<void> {
    await this.#inputs.putVersion(version, doc);
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** The control plane's version, or undefined while nobody has set it. */
  serverVersion(): string | undefined {
    return this.#inputs.serverVersion;
  }

  serverInfo(): ServerView {
    return serverView(this.#o.info, this.#inputs.serverVersion, this.#o.ownVersion, this.updater());
  }

  /** The upkeep version agents' updaters are told to run (find `upkeep.updater_version`), and why. */
  updater(): UpdaterAnswer {
    return this.#inputs.updater.answer();
  }

  /** The upkeep versions the published upkeep-releases.json lists, or undefined when none is published. */
  publishedUpdaterVersions(): string[] | undefined {
    return this.#inputs.updater.versions;
  }

  /** Stores the `updater_version` setting: `auto`, `off` or a version. */
  async setUpdaterVersion(v: string): Promise<void> {
    await this.#inputs.updater.put(v);
    this.#finds.invalidate();
  }

  async setServerVersion(v: string): Promise<void> {
    await this.#inputs.setServerVersion(v);
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  async setCritical(version: string, critical: boolean): Promise<void> {
    await this.#inputs.setCritical(version, critical);
    this.#finds.invalidate();
    await this.#reconcileNow();
  }

  /** A release or manifest was uploaded: re-read the manifests (the updater's, the critical flags). */
  async artifactsChanged(): Promise<void> {
    const changed = await this.#inputs.artifactsChanged();
    if (changed.updater || changed.critical) this.#finds.invalidate();
    if (changed.critical) await this.#reconcileNow();
  }

  async releases(): Promise<ReleasesView> {
    return {
      product: this.#o.info.product,
      critical: this.#inputs.allCritical(),
      manifest: this.#inputs.manifest.view(this.#o.now()),
      artifacts: await this.#o.store.listArtifacts(),
    };
  }

  /** The versions the published release manifest lists, or undefined when none is published (or parses). */
  publishedVersions(): string[] | undefined {
    return this.#inputs.manifest.versions;
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
    // The core returns the same rollout object when nothing changed: nothing is written, and the
    // precomputed answers stay valid (clock-dependent ones expire on their own). Callers that change other
    // inputs invalidate first. Refused (another replica wrote): decided again over what it wrote.
    const written = await this.#record.update((rollout) => {
      const change = this.#decide(rollout, now);
      return change.next === rollout && change.events.length === 0 ? undefined : change;
    });
    if (!written)
      this.#o.log("reconcile: the rollout kept changing under this replica; trying again later", {
        tries: CAS_TRIES,
      });
    this.#inputs.manifest.warnExpiry(now);
    this.#inputs.updater.warnExpiry(now);
    this.#lastReconcileMs = performance.now() - t0;
    this.#reconcileCount++;
  }

  /** The core's decision over the state held now. */
  #decide(rollout: Rollout | undefined, now: Date): RolloutChange {
    const version = this.#inputs.version;
    const agents = version?.spec.agents;
    if (!agents) return { next: undefined, events: [] };
    const r = engine.reconcile({
      config: this.#inputs.config,
      version,
      rollout,
      counted: (g) => this.#fleet.group(g),
      serverVersion: this.#inputs.serverVersion,
      now,
      random: this.#o.random ?? Math.random,
      critical: this.#inputs.isCritical(agents.targetVersion),
    });
    return { next: r.rollout, events: r.events };
  }

  action(group: string, action: GroupAction): Promise<void> {
    return this.#serial(() => this.#act(group, action));
  }

  async #act(group: string, action: GroupAction): Promise<void> {
    const now = this.#o.now();
    // Replicas: the action applies to the rollout as stored now, not as last heard of.
    if (this.#o.shared) await this.#record.read();
    // Refused (another replica moved the rollout): the action again, over what it wrote (it may now be refused).
    const written = await this.#record.update((rollout) =>
      actionChange(action, group, { rollout, now, config: this.#inputs.config }),
    );
    if (!written) throw keptChanging(action, group);
    await this.#reconcileOnce(true);
    refuseRolledBackAgain(action, group, this.#record.current);
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
      config: next.config ?? this.#inputs.config,
      version: next.version ?? this.#inputs.version,
      serverVersion: next.serverVersion ?? this.#inputs.serverVersion,
      published: this.#inputs.manifest.versions,
      rollout: this.#record.current,
      counted: (g) => this.#fleet.group(g),
      now: this.#o.now(),
      critical: this.#inputs.allCritical(),
    });
  }

  /** `GET /v1/rollout`: the stored rollout and what each group and client tools are told now. */
  async view(): Promise<RolloutView> {
    // What an operator reads is the rollout as of now: counts and transitions not yet reconciled included
    // (on a replica without the lease: as the lease holder last stored it). Replicas: the stored rollout
    // is read first, so a write just answered by another replica shows here too, notification or not.
    // Reads keep answering when the store refuses writes, or cannot be read (the store logs that).
    if (this.#o.shared) await this.#serial(async () => void (await this.#record.read())).catch(() => {});
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
      config: this.#inputs.config,
      version: this.#inputs.version,
      rollout: this.#record.current,
      serverVersion: this.#inputs.serverVersion,
      isCritical: (v) => this.#inputs.isCritical(v),
      updaterVersion: this.updater().version,
    };
  }

  // ---- find / ping ----

  /** The JSON body of `/webapi/find` for an agent of `group` (unknown: the last group). Never throws. */
  findBody(group: string, updaterId: string): string {
    let resolved: string;
    try {
      resolved = resolveGroup(this.#inputs.config, group).name;
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
      config: this.#inputs.config,
      rollout: this.#record.current,
      present: this.#fleet.counts(),
      updaters: this.#fleet.updaters(),
      pruned: this.#fleet.pruned,
      lastReconcileMs: this.#lastReconcileMs,
      reconcileCount: this.#reconcileCount,
      finds: this.#finds.counts(),
    });
  }
}
