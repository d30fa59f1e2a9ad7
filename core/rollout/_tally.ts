// Private to reconcile: counting a group's reporting agents against the target. Not re-exported from mod.ts.
import type { AutoupdateConfig } from "../resources/types.ts";
import { sameVersion } from "../version/same_version.ts";
import { resolveGroup } from "./resolve_group.ts";
import type { AgentReport } from "./types.ts";

/** A group's reporting agents, and how many run the target healthy or failed on it. */
export type Tally = { members: AgentReport[]; present: number; upToDate: number; failed: number };

/** One tally per configured group; an agent counts once, in the group it resolves to. */
export function tally(
  config: AutoupdateConfig,
  agents: readonly AgentReport[],
  target: string,
): Map<string, Tally> {
  const out = new Map<string, Tally>();
  for (const g of config.spec.agents.groups)
    out.set(g.name, { members: [], present: 0, upToDate: 0, failed: 0 });
  const seen = new Set<string>();
  for (const a of agents) {
    if (seen.has(a.updaterId)) continue; // one report per agent
    seen.add(a.updaterId);
    const t = out.get(resolveGroup(config, a.group).name) as Tally;
    t.members.push(a);
    t.present++;
    if (isUpToDate(a, target)) t.upToDate++;
    else if (hasFailed(a, target)) t.failed++;
  }
  return out;
}

export function isUpToDate(a: AgentReport | undefined, target: string): boolean {
  return a?.healthy === true && sameVersion(a.version, target);
}

export function hasFailed(a: AgentReport | undefined, target: string): boolean {
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
