/** The rollout's gauges for /metrics, from the state RolloutService holds. */
import type { AutoupdateConfig } from "../core/resources/mod.ts";
import type { Rollout } from "../core/rollout/types.ts";
import { REPORT_STATES } from "../core/wire/mod.ts";
import type { FindCount } from "./find_cache.ts";
import type { Metrics } from "./metrics.ts";
import { type KindCount, UNKNOWN_UPDATER } from "./present_agents.ts";

type Row = { labels: Record<string, string>; value: number };

/** Per group, the most common versions keep their own label value; the rest are counted as `other`. */
export const TOP_VERSIONS = 10;

export function exportRolloutMetrics(
  m: Metrics,
  s: {
    config: AutoupdateConfig;
    rollout: Rollout | undefined;
    /**
     * The present agents' counts by group (the configured group each resolves to: the group a report names
     * is the agent's word, any string an agent token sends, so label values stay the configured groups).
     */
    present: ReadonlyMap<string, ReadonlyMap<string, KindCount>>;
    /** Present agents by the upkeep version their updater runs (`unknown`: an agent too old to say). */
    updaters: ReadonlyMap<string, number>;
    pruned: number;
    lastReconcileMs: number;
    reconcileCount: number;
    finds: readonly FindCount[];
  },
): void {
  const byAgent: Row[] = [];
  const byVersion: Row[] = [];
  const byState: Row[] = [];
  for (const { name: group } of s.config.spec.agents.groups) {
    const kinds = [...(s.present.get(group)?.values() ?? [])];
    const top = topVersions(kinds);
    const label = (v: string) => (top.has(v) ? v : "other");
    add(byAgent, kinds, (k) => ({ group, version: label(k.version), state: k.state }));
    add(byVersion, kinds, (k) => ({ group, version: label(k.version) }));
    for (const state of REPORT_STATES) {
      const value = kinds.filter((k) => k.state === state).reduce((n, k) => n + k.count, 0);
      byState.push({ labels: { group, state }, value });
    }
  }
  m.setGauge("upkeep_agents", "present agents by group, version and state", byAgent);
  m.setGauge(
    "upkeep_agents_version",
    `present agents by group and version (the ${TOP_VERSIONS} most common versions of each group; the rest: other)`,
    byVersion,
  );
  m.setGauge("upkeep_agents_state", "present agents by group and state", byState);
  m.setGauge(
    "upkeep_agents_updater_version",
    `present agents by the upkeep version their updater runs (the ${TOP_VERSIONS} most common; the rest: other; unknown: not reported)`,
    updaterRows(s.updaters),
  );
  m.counter("upkeep_agents_pruned_total", "agents deleted after --agent-retention without a report").value =
    s.pruned;
  m.setGauge(
    "upkeep_rollout_group_state",
    "1 for the current state of each rollout group",
    (s.rollout?.groups ?? []).map((g) => ({ labels: { group: g.name, state: g.state }, value: 1 })),
  );
  m.setGauge("upkeep_reconcile_duration_seconds", "duration of the last reconcile", [
    { labels: {}, value: s.lastReconcileMs / 1000 },
  ]);
  m.setGauge("upkeep_reconciles", "reconciles run since start", [{ labels: {}, value: s.reconcileCount }]);
  m.setGauge(
    "upkeep_find_answers",
    "find/ping answers served since start, by group, version and should-update",
    s.finds.filter((c) => c.n > 0).map((c) => ({ labels: c.labels, value: c.n })),
  );
}

/**
 * One row per updater version: the TOP_VERSIONS most common keep their label, the rest add up to `other`;
 * agents too old to report one are `unknown`, always a row of its own.
 */
function updaterRows(updaters: ReadonlyMap<string, number>): Row[] {
  const sorted = [...updaters]
    .filter(([v]) => v !== UNKNOWN_UPDATER)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const rows: Row[] = sorted
    .slice(0, TOP_VERSIONS)
    .map(([version, value]) => ({ labels: { version }, value }));
  const rest = sorted.slice(TOP_VERSIONS).reduce((n, [, c]) => n + c, 0);
  if (rest > 0) rows.push({ labels: { version: "other" }, value: rest });
  const unknown = updaters.get(UNKNOWN_UPDATER) ?? 0;
  if (unknown > 0) rows.push({ labels: { version: UNKNOWN_UPDATER }, value: unknown });
  return rows;
}

/** The group's TOP_VERSIONS most common versions (ties: the higher count first, then by name). */
function topVersions(kinds: readonly KindCount[]): Set<string> {
  const n = new Map<string, number>();
  for (const k of kinds) n.set(k.version, (n.get(k.version) ?? 0) + k.count);
  const sorted = [...n].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new Set(sorted.slice(0, TOP_VERSIONS).map(([v]) => v));
}

/** Sums the kinds' counts into rows by the labels `of` gives. */
function add(rows: Row[], kinds: readonly KindCount[], of: (k: KindCount) => Record<string, string>): void {
  const byKey = new Map<string, Row>();
  for (const k of kinds) {
    const labels = of(k);
    const key = JSON.stringify(labels);
    let row = byKey.get(key);
    if (row === undefined) {
      row = { labels, value: 0 };
      byKey.set(key, row);
      rows.push(row);
    }
    row.value += k.count;
  }
}
