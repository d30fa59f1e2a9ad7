// Private to reconcile: counting a group's reporting agents against the target. Not re-exported from mod.ts.
import type { AutoupdateConfig } from "../resources/types.ts";
import { sameVersion } from "../version/same_version.ts";
import { resolveGroup } from "./resolve_group.ts";
import type { AgentKind, AgentReport, GroupAgents } from "./types.ts";

/**
 * A group's reporting agents: how many run the target healthy or failed on it, and the agents themselves
 * (listed only to choose canaries, looked up by id for the canaries' verdicts).
 */
export type Tally = {
  present: number;
  upToDate: number;
  failed: number;
  members: () => readonly AgentReport[];
  member: (updaterId: string) => AgentReport | undefined;
};

/** One tally per configured group; an agent counts once, in the group it resolves to. */
export function tally(
  config: AutoupdateConfig,
  agents: readonly AgentReport[],
  target: string,
): Map<string, Tally> {
  const lists = new Map<string, Map<string, AgentReport>>();
  for (const g of config.spec.agents.groups) lists.set(g.name, new Map());
  const seen = new Set<string>();
  for (const a of agents) {
    if (seen.has(a.updaterId)) continue; // one report per agent
    seen.add(a.updaterId);
    lists.get(resolveGroup(config, a.group).name)?.set(a.updaterId, a);
  }
  const out = new Map<string, Tally>();
  for (const [name, byId] of lists) {
    const t = count(
      [...byId.values()].map((kind) => ({ kind, count: 1 })),
      target,
    );
    const members = [...byId.values()];
    out.set(name, { ...t, members: () => members, member: (id) => byId.get(id) });
  }
  return out;
}

/**
 * One tally per configured group from counts a server keeps (`GroupAgents`): O(groups x kinds), whatever
 * the number of agents.
 */
export function tallyCounted(
  config: AutoupdateConfig,
  fleet: (group: string) => GroupAgents,
  target: string,
): Map<string, Tally> {
  const out = new Map<string, Tally>();
  for (const g of config.spec.agents.groups) {
    const agents = fleet(g.name);
    out.set(g.name, { ...count(agents.kinds, target), members: agents.members, member: agents.member });
  }
  return out;
}

function count(
  kinds: Iterable<{ kind: AgentKind; count: number }>,
  target: string,
): Pick<Tally, "present" | "upToDate" | "failed"> {
  const t = { present: 0, upToDate: 0, failed: 0 };
  for (const { kind, count } of kinds) {
    t.present += count;
    if (isUpToDate(kind, target)) t.upToDate += count;
    else if (hasFailed(kind, target)) t.failed += count;
  }
  return t;
}

export function isUpToDate(a: AgentKind | undefined, target: string): boolean {
  return a?.healthy === true && sameVersion(a.version, target);
}

export function hasFailed(a: AgentKind | undefined, target: string): boolean {
  if (a === undefined || isUpToDate(a, target)) return false;
  return sameVersion(a.failedVersion, target) || (!a.healthy && sameVersion(a.version, target));
}

/**
 * What a group's reporting agents run, from one tally (so it always agrees with the counts shown beside it):
 * `all 2 reporting agents run 1.1.0`, `10 of 11 reporting agents run 1.1.0; 1 failed on it (within the
 * threshold)`, `0 of 1 reporting agents run 1.1.0; 1 on another version`.
 */
export function agentsSummary(t: Tally, target: string, threshold = false): string {
  if (t.present === 0) return "no agent reports";
  const parts = [
    t.upToDate === t.present
      ? `all ${t.present} reporting agents run ${target}`
      : `${t.upToDate} of ${t.present} reporting agents run ${target}`,
  ];
  if (t.failed > 0) parts.push(`${t.failed} failed on it${threshold ? " (within the threshold)" : ""}`);
  const other = t.present - t.upToDate - t.failed;
  if (other > 0) parts.push(`${other} on another version`);
  return parts.join("; ");
}
