/**
 * What one page (or one live refresh) reads from the server, once: the rollout view, the config, the
 * releases, and the fleet. `FleetReader` is the seam for issue 13 (fleet scale): today it answers over a
 * snapshot of every agent in memory (`snapshotFleet`: one pass per question, no sort); when the store
 * pages and filters agents itself (`/v1/agents?group=&version=&state=&hostname=&limit=&cursor=`) and keeps
 * per-group version counts, `page` becomes that query and `stats` those counts, and nothing else changes.
 */
import {
  type AgentPage,
  type AgentQuery,
  type FleetStats,
  fleetStats,
  pageAgents,
} from "../../core/dashboard/mod.ts";
import { type AutoupdateConfig, parseAutoupdateConfig } from "../../core/resources/mod.ts";
import { resolveGroup } from "../../core/rollout/resolve_group.ts";
import type { AgentView, ReleasesView, RolloutView } from "../../core/wire/mod.ts";
import type { RolloutService } from "../rollout_service.ts";

export interface FleetReader {
  /** One page of the Hosts table. */
  page(q: AgentQuery): AgentPage;
  /** Per-group version histograms and the canaries' reports. */
  stats(canaryIds: ReadonlySet<string>): FleetStats;
  get(updaterId: string): AgentView | undefined;
}

export interface PageData {
  now: number;
  view: RolloutView;
  config: AutoupdateConfig;
  releases: ReleasesView;
  groupOf: (group: string) => string;
  fleet: FleetReader;
}

export function snapshotFleet(agents: AgentView[], groupOf: (group: string) => string): FleetReader {
  return {
    page: (q) => pageAgents(agents, q, groupOf),
    stats: (canaryIds) => fleetStats(agents, groupOf, canaryIds),
    get: (id) => agents.find((a) => a.updater_id === id),
  };
}

export async function readPageData(rollout: RolloutService, now: () => Date): Promise<PageData> {
  const config = parseAutoupdateConfig(rollout.getConfig());
  const cache = new Map<string, string>();
  const groupOf = (group: string) => {
    let g = cache.get(group);
    if (g === undefined) {
      g = resolveGroup(config, group).name;
      cache.set(group, g);
    }
    return g;
  };
  const [view, releases, agents] = await Promise.all([
    rollout.view(),
    rollout.releases(),
    rollout.allAgents(),
  ]);
  return {
    now: now().getTime(),
    view,
    config,
    releases,
    groupOf,
    fleet: snapshotFleet(agents, groupOf),
  };
}
