/**
 * What one page (or one live refresh) reads from the server, once: the rollout view, the config, the
 * releases, and from the fleet only what the page shows, never every agent (100,000 of them at issue 13's
 * scale): the Hosts table is one store query (its filters and page in SQL, `FleetReader.page`); the group
 * rows' version histograms are the per-group counts the server keeps as reports arrive, and the canaries
 * are looked up by id (`FleetReader.stats`).
 */
import { type AgentPage, type AgentQuery, type FleetStats, fleetStats } from "../../core/dashboard/mod.ts";
import { type AutoupdateConfig, parseAutoupdateConfig } from "../../core/resources/mod.ts";
import { resolveGroup } from "../../core/rollout/resolve_group.ts";
import { formatVersion, tryParseVersion } from "../../core/version/mod.ts";
import type { AgentView, ReleasesView, RolloutView } from "../../core/wire/mod.ts";
import type { RolloutService } from "../rollout_service.ts";
import type { AgentQuery as StoreQuery } from "../store.ts";

export interface FleetReader {
  /** One page of the Hosts table: one store query. */
  page(q: AgentQuery): Promise<AgentPage>;
  /** Per-group version histograms (the kept counts) and the canaries' reports (looked up by id). */
  stats(canaryIds: ReadonlySet<string>): Promise<FleetStats>;
  get(updaterId: string): Promise<AgentView | undefined>;
}

export interface PageData {
  now: number;
  view: RolloutView;
  config: AutoupdateConfig;
  releases: ReleasesView;
  groupOf: (group: string) => string;
  /** The Hosts table's page for the query asked. */
  hosts: AgentPage;
  stats: FleetStats;
}

/**
 * The store query of the table's query, or undefined when no agent can match (a group the schedule does
 * not have). A group is the agents the rollout counts in it: those naming it, or for the last group also
 * those naming an unknown group or none (as `GET /v1/agents`).
 */
function storeQuery(q: AgentQuery, groups: readonly string[]): StoreQuery | undefined {
  const s: StoreQuery = { limit: q.limit };
  if (q.group !== undefined) {
    if (!groups.includes(q.group)) return undefined;
    s.group = q.group === groups.at(-1) ? { notIn: groups.slice(0, -1) } : { is: q.group };
  }
  if (q.version !== undefined) {
    const v = tryParseVersion(q.version);
    s.version = v ? formatVersion(v) : q.version; // as reports store it (v1.2.0 is 1.2.0)
  }
  if (q.state !== undefined) s.state = q.state;
  if (q.hostname !== undefined) s.hostnamePrefix = q.hostname;
  if (q.cursor !== undefined) s.after = q.cursor;
  return s;
}

/** The fleet as the dashboard reads it, over the store's paged query and the server's counts. */
export function storeFleet(rollout: RolloutService, config: AutoupdateConfig): FleetReader {
  const fleet = rollout.fleetReads();
  const groups = config.spec.agents.groups.map((g) => g.name);
  const byIds = async (ids: string[]) =>
    ids.length === 0 ? [] : (await fleet.query({ updaterIds: ids, limit: ids.length })).agents;
  return {
    page: async (q) => {
      const s = storeQuery(q, groups);
      if (s === undefined) return { agents: [], total: 0, next: null };
      const p = await fleet.query(s);
      return {
        agents: p.agents,
        total: p.total,
        next: p.more ? (p.agents.at(-1)?.updater_id ?? null) : null,
      };
    },
    stats: async (canaryIds) =>
      fleetStats(
        [...fleet.counts()].map(([group, kinds]) => [group, kinds.values()] as const),
        await byIds([...canaryIds]),
      ),
    get: async (id) => (await byIds([id]))[0],
  };
}

/** The group the rollout counts a reported group in, resolved once per distinct name. */
function groupResolver(config: AutoupdateConfig): (group: string) => string {
  const cache = new Map<string, string>();
  return (group) => {
    let g = cache.get(group);
    if (g === undefined) {
      g = resolveGroup(config, group).name;
      cache.set(group, g);
    }
    return g;
  };
}

/** Everything one page or live refresh shows, for the Hosts table's query `q`. */
export async function readPageData(
  rollout: RolloutService,
  now: () => Date,
  q: AgentQuery,
): Promise<PageData> {
  const config = parseAutoupdateConfig(rollout.getConfig());
  const fleet = storeFleet(rollout, config);
  const [view, releases, hosts] = await Promise.all([rollout.view(), rollout.releases(), fleet.page(q)]);
  const stats = await fleet.stats(new Set(view.groups.flatMap((g) => g.canaries.map((c) => c.updater_id))));
  return { now: now().getTime(), view, config, releases, groupOf: groupResolver(config), hosts, stats };
}

/** One host's last report and the group it counts in, or undefined when no agent has that id. */
export async function readHost(
  rollout: RolloutService,
  id: string,
): Promise<{ agent: AgentView; group: string } | undefined> {
  const config = parseAutoupdateConfig(rollout.getConfig());
  const agent = await storeFleet(rollout, config).get(id);
  return agent && { agent, group: resolveGroup(config, agent.group).name };
}
