/**
 * What the group rows need from the whole fleet, in one pass over the agents: per group, the versions its
 * present hosts run (a histogram, as `tctl autoupdate agents report`), and the canaries' own reports. Pure.
 * (Issue 13 keeps per-group version counts incrementally; they can replace `versions` here.)
 */
import type { AgentView } from "../wire/views.ts";

export interface FleetStats {
  /** Per group the rollout counts agents in: version -> present hosts on it. */
  versions: Map<string, Map<string, number>>;
  /** The canaries' reports, by updater id. */
  canaries: Map<string, AgentView>;
  total: number;
  present: number;
}

export function fleetStats(
  agents: Iterable<AgentView>,
  groupOf: (group: string) => string,
  canaryIds: ReadonlySet<string>,
): FleetStats {
  const versions = new Map<string, Map<string, number>>();
  const canaries = new Map<string, AgentView>();
  let total = 0;
  let present = 0;
  const groups = new Map<string, string>();
  for (const a of agents) {
    total++;
    if (canaryIds.has(a.updater_id)) canaries.set(a.updater_id, a);
    if (!a.present) continue;
    present++;
    let g = groups.get(a.group);
    if (g === undefined) {
      g = groupOf(a.group);
      groups.set(a.group, g);
    }
    let h = versions.get(g);
    if (!h) {
      h = new Map();
      versions.set(g, h);
    }
    h.set(a.version, (h.get(a.version) ?? 0) + 1);
  }
  return { versions, canaries, total, present };
}
