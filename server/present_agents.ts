/**
 * The agents that count now (reported within the presence window), kept counted per group as reports arrive
 * and as agents expire, so that neither a report nor a reconcile walks the fleet (issue 13): a report costs
 * the same with 1,000 agents as with 100,000.
 *
 * - Counts: per group (the configured group an agent resolves to), how many present agents of each kind
 *   (state, version, failed version): what `reconcile` counts (`GroupAgents`) and what /metrics shows.
 * - Expiry: agents are kept in the order of their last report (a report moves its agent to the end), so
 *   expiring walks only the agents that expire. A report older than the newest one (the clock stepped
 *   back) breaks that order; the next expiry then sorts once. With replicas, reports other replicas
 *   received come a little out of order (`slackMs`): that much disorder is kept as it is (no sort), and an
 *   agent then stops counting at most `slackMs` late.
 * - Only present agents are held; the store keeps the others (`GET /v1/agents` reads the store).
 */
import type { AutoupdateConfig } from "../core/resources/mod.ts";
import { resolveGroup } from "../core/rollout/mod.ts";
import type { AgentKind, AgentReport, GroupAgents } from "../core/rollout/types.ts";
import type { AgentRecord } from "./store.ts";

interface Present {
  record: AgentRecord;
  /** When its last report came (ms). */
  seen: number;
  /** The configured group it counts in. */
  group: string;
  /** Its kind's key in the group's counts. */
  key: string;
}

/** Present agents of one kind in one group. */
export interface KindCount {
  kind: AgentKind;
  state: AgentRecord["state"];
  version: string;
  count: number;
}

const NONE: readonly KindCount[] = [];

/** The updater version label of an agent too old to report one. */
export const UNKNOWN_UPDATER = "unknown";

const updaterOf = (a: AgentRecord): string => a.updater_version ?? UNKNOWN_UPDATER;

/** What the rollout counts of an agent's report: failed or rolled back names the version that failed. */
function kindOf(a: AgentRecord): { key: string; count: KindCount } {
  const failed = a.state === "failed" || a.state === "rolledback";
  const failedVersion = failed ? (a.failed_version ?? a.version) : undefined;
  const kind: AgentKind = {
    version: a.version,
    healthy: a.state === "ok",
    ...(failedVersion !== undefined ? { failedVersion } : {}),
  };
  return {
    key: `${a.state}\n${a.version}\n${failedVersion ?? ""}`,
    count: { kind, state: a.state, version: a.version, count: 0 },
  };
}

function reportOf(a: AgentRecord): AgentReport {
  const failed = a.state === "failed" || a.state === "rolledback";
  return {
    updaterId: a.updater_id,
    hostname: a.hostname,
    group: a.group,
    version: a.version,
    healthy: a.state === "ok",
    ...(failed ? { failedVersion: a.failed_version ?? a.version } : {}),
  };
}

export class PresentAgents {
  readonly #presenceMs: number;
  readonly #slackMs: number;
  #config: AutoupdateConfig;
  /** Oldest report first, while `#ordered`. */
  #byId = new Map<string, Present>();
  readonly #groups = new Map<string, Map<string, KindCount>>();
  /** Present agents by the upkeep version their updater runs (DESIGN §9; `unknown`: not reported). */
  readonly #updaters = new Map<string, number>();
  #newest = Number.NEGATIVE_INFINITY;
  #ordered = true;

  /** `slackMs`: how much older than the newest report a report may be and still keep the order (0: none). */
  constructor(config: AutoupdateConfig, presenceMs: number, slackMs = 0) {
    this.#config = config;
    this.#presenceMs = presenceMs;
    this.#slackMs = slackMs;
  }

  get size(): number {
    return this.#byId.size;
  }

  /**
   * Counts an agent's report that came at `seen` (ms). Answers the groups whose counts changed: none when
   * the agent was present with the same kind in the same group (only its record and time move).
   */
  add(record: AgentRecord, seen: number): string[] {
    const group = resolveGroup(this.#config, record.group).name;
    const { key } = kindOf(record);
    const prev = this.#byId.get(record.updater_id);
    if (prev !== undefined) this.#byId.delete(record.updater_id);
    if (prev !== undefined) this.#countUpdater(prev.record, -1);
    this.#countUpdater(record, 1);
    const next: Present = { record, seen, group, key };
    this.#byId.set(record.updater_id, next);
    if (seen < this.#newest - this.#slackMs) this.#ordered = false;
    else if (seen > this.#newest) this.#newest = seen;
    if (prev !== undefined && prev.group === group && prev.key === key) return [];
    if (prev !== undefined) this.#uncount(prev);
    this.#count(next);
    return prev !== undefined && prev.group !== group ? [prev.group, group] : [group];
  }

  /**
   * Counts a report read back from the store (replicas: one another replica received) unless a more recent
   * report of that agent is already counted (one of the same instant: the store's, the last committed).
   * Answers the groups whose counts changed.
   */
  addNewer(record: AgentRecord, seen: number): string[] {
    const prev = this.#byId.get(record.updater_id);
    if (prev !== undefined && prev.seen > seen) return [];
    return this.add(record, seen);
  }

  /** Drops the agents not seen within the presence window at `now` (ms); answers the groups that changed. */
  expire(now: number): string[] {
    const cutoff = now - this.#presenceMs; // present: seen >= cutoff
    if (!this.#ordered) this.#sort();
    const changed = new Set<string>();
    for (const [id, p] of this.#byId) {
      if (p.seen >= cutoff) break;
      this.#byId.delete(id);
      this.#uncount(p);
      this.#countUpdater(p.record, -1);
      changed.add(p.group);
    }
    return [...changed];
  }

  /** Starts over from these records (at start, or when the clock stepped back), counting the present ones. */
  reset(records: Iterable<AgentRecord>, now: number): void {
    this.#byId = new Map();
    this.#groups.clear();
    this.#updaters.clear();
    this.#newest = Number.NEGATIVE_INFINITY;
    this.#ordered = true;
    for (const r of records) this.add(r, Date.parse(r.last_seen));
    this.expire(now);
  }

  /** The schedule changed: every present agent counted again in the group it now resolves to. */
  setConfig(config: AutoupdateConfig): void {
    this.#config = config;
    this.#groups.clear();
    for (const p of this.#byId.values()) {
      p.group = resolveGroup(config, p.record.group).name;
      this.#count(p);
    }
  }

  /** A group's present agents for `reconcile`: the counts; the members listed only when asked. */
  group(name: string): GroupAgents {
    return {
      kinds: this.#groups.get(name)?.values() ?? NONE,
      members: () => {
        const out: AgentReport[] = [];
        for (const p of this.#byId.values()) if (p.group === name) out.push(reportOf(p.record));
        return out;
      },
      member: (id) => {
        const p = this.#byId.get(id);
        return p !== undefined && p.group === name ? reportOf(p.record) : undefined;
      },
    };
  }

  /** Present agents by updater version (for /metrics). */
  updaters(): ReadonlyMap<string, number> {
    return this.#updaters;
  }

  #countUpdater(r: AgentRecord, delta: 1 | -1): void {
    const v = updaterOf(r);
    const n = (this.#updaters.get(v) ?? 0) + delta;
    if (n <= 0) this.#updaters.delete(v);
    else this.#updaters.set(v, n);
  }

  /** Every group's counts by kind (for /metrics). */
  counts(): ReadonlyMap<string, ReadonlyMap<string, KindCount>> {
    return this.#groups;
  }

  #count(p: Present): void {
    let kinds = this.#groups.get(p.group);
    if (kinds === undefined) {
      kinds = new Map();
      this.#groups.set(p.group, kinds);
    }
    let c = kinds.get(p.key);
    if (c === undefined) {
      c = kindOf(p.record).count;
      kinds.set(p.key, c);
    }
    c.count++;
  }

  #uncount(p: Present): void {
    const kinds = this.#groups.get(p.group);
    const c = kinds?.get(p.key);
    if (kinds === undefined || c === undefined) return;
    c.count--;
    if (c.count === 0) kinds.delete(p.key);
  }

  #sort(): void {
    this.#byId = new Map([...this.#byId].sort((a, b) => a[1].seen - b[1].seen));
    this.#ordered = true;
    this.#newest = [...this.#byId.values()].at(-1)?.seen ?? Number.NEGATIVE_INFINITY;
  }
}
