/**
 * What the group rows need from the fleet: per group, the versions its present hosts run (a histogram, as
 * `tctl autoupdate agents report`), and the canaries' own reports. Pure, and never a walk of the fleet: the
 * histograms come from the per-group counts the server keeps as reports arrive (server/present_agents.ts:
 * present hosts by kind, several kinds per version), the canaries from a lookup of those few hosts by id.
 */
import type { AgentView } from "../wire/views.ts";

export interface FleetStats {
  /** Per group the rollout counts agents in: version -> present hosts on it. */
  versions: Map<string, Map<string, number>>;
  /** The canaries' reports, by updater id (a canary that never reported is missing). */
  canaries: Map<string, AgentView>;
}

/** Present hosts of one kind (state, version, failed version) in a group; only the version matters here. */
export interface VersionCount {
  version: string;
  count: number;
}

export function fleetStats(
  counts: Iterable<readonly [group: string, kinds: Iterable<VersionCount>]>,
  canaries: Iterable<AgentView>,
): FleetStats {
  const versions = new Map<string, Map<string, number>>();
  for (const [group, kinds] of counts) {
    const h = new Map<string, number>();
    for (const k of kinds) if (k.count > 0) h.set(k.version, (h.get(k.version) ?? 0) + k.count);
    if (h.size > 0) versions.set(group, h);
  }
  return { versions, canaries: new Map([...canaries].map((a) => [a.updater_id, a])) };
}
