/**
 * The server's side of the agents (issue 13: one serve for 100,000 of them): reports kept (the store writes
 * them in batches and acknowledges each only once committed) and counted as they arrive (PresentAgents),
 * the reconciler asked for only when a report can change a decision, the agent list paged by the store,
 * and agents gone for longer than the retention pruned.
 *
 * Replicas (issue 15, `shared`): each replica counts the reports it receives as they come, and every second
 * (`sync`) the ones the others received: the agents the store has seen since its last sync, less
 * `SYNC_OVERLAP_MS` (a report is stamped before its batch commits, and replicas' clocks differ a little), so
 * a report committed late is still read once; one already counted is skipped (`addNewer`). One indexed query
 * of the last seconds' reports a second, whatever the fleet's size. A server alone never syncs.
 */
import type { AutoupdateConfig } from "../core/resources/mod.ts";
import type { GroupAgents } from "../core/rollout/types.ts";
import type { AgentsPage, AgentView } from "../core/wire/mod.ts";
import { agentsPage, agentsQuery } from "./agents_query.ts";
import { Coalesce } from "./coalesce.ts";
import { type KindCount, PresentAgents } from "./present_agents.ts";
import type { AgentQuery, AgentRecord, Store } from "./store.ts";

/** A store page of agents, each with whether it counts now. */
export interface AgentViewPage {
  agents: AgentView[];
  /** How many agents the query's filters match in all. */
  total: number;
  /** More agents after this page. */
  more: boolean;
}

export const DEFAULT_RETENTION_MS = 30 * 24 * 3_600_000;

/** How far back before its last sync a replica reads the reports again (commit lag, clock differences). */
export const SYNC_OVERLAP_MS = 3000;
/** A reconcile reads the other replicas' reports first unless they were read this recently (ms). */
const PULL_GAP_MS = 500;

export interface FleetOptions {
  store: Store;
  now: () => Date;
  /** Agents not seen for this long stop counting as present. */
  presenceMs: number;
  /** Agents not seen for this long are deleted from the store (`prune`). Default 30 days. */
  retentionMs?: number;
  /** Reconciles asked for by reports: at most one per this many ms (default 250). */
  reconcileGapMs?: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** A change to this group's counts can change a decision now (the group is in canary or active). */
  decides: (group: string) => boolean;
  reconcile: () => Promise<void>;
  /** Several replicas share the store: `sync` counts the reports the others received. */
  shared?: boolean;
}

export class Fleet {
  readonly #o: FleetOptions;
  #config: AutoupdateConfig;
  readonly #present: PresentAgents;
  /** The clock at the last expiry: a clock that steps back re-reads the present agents from the store. */
  #expiredAt = Number.NEGATIVE_INFINITY;
  #reload = false;
  readonly #soon: Coalesce;
  #pruned = 0;
  /** When the last sync (or load) began (ms): the next one reads from there, less SYNC_OVERLAP_MS. */
  #syncedAt = Number.NEGATIVE_INFINITY;

  constructor(config: AutoupdateConfig, o: FleetOptions) {
    this.#o = o;
    this.#config = config;
    // Reports read back by `sync` come up to the overlap (and a second between syncs) out of order.
    this.#present = new PresentAgents(config, o.presenceMs, o.shared ? SYNC_OVERLAP_MS + 2000 : 0);
    this.#soon = new Coalesce(() => o.reconcile(), {
      gapMs: o.reconcileGapMs ?? 250,
      onError: (e) => o.log("reconcile failed", { error: String(e) }),
    });
  }

  /** Reads the agents that count now from the store (at start). */
  async load(config: AutoupdateConfig): Promise<void> {
    this.setConfig(config);
    const now = this.#o.now().getTime();
    const since = new Date(now - this.#o.presenceMs).toISOString();
    this.#present.reset(await this.#o.store.listAgents({ seenSince: since }), now);
    this.#expiredAt = now;
    this.#syncedAt = now;
    this.#reload = false;
  }

  /**
   * Replicas: counts the reports other replicas received since the last sync (see the top of this file).
   * One that changes the counts of a group where counts decide asks for a reconcile, as a report does
   * (only the lease holder runs it). A server alone (not `shared`) has nothing to read.
   */
  async sync(): Promise<void> {
    if (!this.#o.shared) return;
    const changed = await this.#pull();
    if (changed.some((g) => this.#o.decides(g))) await this.#soon.request();
  }

  /** Reads and counts the reports stored since the last sync; the groups whose counts changed. */
  async #pull(): Promise<string[]> {
    const began = this.#o.now().getTime();
    const from = Math.max(this.#syncedAt - SYNC_OVERLAP_MS, began - this.#o.presenceMs);
    const records = await this.#o.store.listAgents({ seenSince: new Date(from).toISOString() });
    const changed = new Set(this.expire());
    for (const r of records)
      for (const g of this.#present.addNewer(r, Date.parse(r.last_seen))) changed.add(g);
    this.#syncedAt = Math.max(this.#syncedAt, began);
    return [...changed];
  }

  setConfig(config: AutoupdateConfig): void {
    this.#config = config;
    this.#present.setConfig(config);
  }

  /**
   * Keeps an agent's report (committed before this resolves) and counts it. A report that changes the
   * counts of a group where counts decide asks for a reconcile: at once after a quiet spell (awaited), else
   * folded into one run at most every `reconcileGapMs`. Any other report waits for the next reconcile.
   */
  async report(r: AgentRecord): Promise<void> {
    await this.#o.store.upsertAgent(r);
    const changed = [...this.expire(), ...this.#present.add(r, Date.parse(r.last_seen))];
    if (changed.some((g) => this.#o.decides(g))) await this.#soon.request();
  }

  /** `GET /v1/agents`: one page of agents, filtered by the store, and how many match. */
  async page(params: Record<string, string | undefined>): Promise<AgentsPage> {
    const cutoff = new Date(this.#o.now().getTime() - this.#o.presenceMs).toISOString();
    const q = agentsQuery(params, { config: this.#config, presentSince: cutoff });
    return agentsPage(await this.#o.store.queryAgents(q), q, cutoff);
  }

  /** One page of a store query (the dashboard's hosts, canaries, a host), each with whether it counts now. */
  async query(q: AgentQuery): Promise<AgentViewPage> {
    const cutoff = new Date(this.#o.now().getTime() - this.#o.presenceMs).toISOString();
    const page = await this.#o.store.queryAgents(q);
    return { ...page, agents: page.agents.map((a) => ({ ...a, present: a.last_seen >= cutoff })) };
  }

  /** Every stored agent with whether it counts now (read once: the dashboard's report history starts from it). */
  async all(): Promise<AgentView[]> {
    const cutoff = new Date(this.#o.now().getTime() - this.#o.presenceMs).toISOString();
    return (await this.#o.store.listAgents()).map((a) => ({ ...a, present: a.last_seen >= cutoff }));
  }

  /**
   * Called as a reconcile begins: it covers every report so far; the counts are brought to now (replicas:
   * with the reports the others received, read first unless read in the last half second, or always for
   * an operator's write (`fresh`): no decision is taken over counts a second old).
   */
  async beforeReconcile(fresh = false): Promise<void> {
    this.#soon.started();
    if (this.#reload) await this.load(this.#config);
    else if (this.#o.shared && (fresh || this.#o.now().getTime() - this.#syncedAt >= PULL_GAP_MS))
      await this.#pull();
    this.expire();
  }

  /** Drops the agents no longer present; the groups whose counts changed. */
  expire(): string[] {
    const now = this.#o.now().getTime();
    if (now < this.#expiredAt) {
      // The clock stepped back: agents expired since may count again; re-read them at the next reconcile.
      this.#reload = true;
      return [];
    }
    this.#expiredAt = now;
    return this.#present.expire(now);
  }

  /** A group's present agents, for `reconcile` and `planAnswers`. */
  group(name: string): GroupAgents {
    return this.#present.group(name);
  }

  /** Present agents by group and kind (for /metrics). */
  counts(): ReadonlyMap<string, ReadonlyMap<string, KindCount>> {
    this.expire();
    return this.#present.counts();
  }

  /** Present agents by the upkeep version their updater runs (for /metrics). */
  updaters(): ReadonlyMap<string, number> {
    this.expire();
    return this.#present.updaters();
  }

  /** Agents deleted by `prune` since start. */
  get pruned(): number {
    return this.#pruned;
  }

  /**
   * Deletes agents not seen for the retention from the store, a batch at a time (other requests are served
   * between batches). Answers how many; /metrics counts them (`upkeep_agents_pruned_total`).
   */
  async prune(batch = 1000): Promise<number> {
    const keep = Math.max(this.#o.retentionMs ?? DEFAULT_RETENTION_MS, this.#o.presenceMs);
    const before = new Date(this.#o.now().getTime() - keep).toISOString();
    let total = 0;
    for (;;) {
      const n = await this.#o.store.pruneAgents(before, batch);
      total += n;
      if (n < batch) break;
      await new Promise((res) => setTimeout(res, 0));
    }
    this.#pruned += total;
    if (total > 0) this.#o.log("agents pruned", { count: total, not_seen_since: before });
    return total;
  }

  close(): void {
    this.#soon.stop();
  }
}
