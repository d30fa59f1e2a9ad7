/** The rollout's gauges for /metrics, from the state RolloutService holds. */
import type { AutoupdateConfig } from "../core/resources/mod.ts";
import { resolveGroup } from "../core/rollout/mod.ts";
import type { Rollout } from "../core/rollout/types.ts";
import type { FindCount } from "./find_cache.ts";
import type { Metrics } from "./metrics.ts";
import type { AgentRecord } from "./store.ts";

type Row = { labels: Record<string, string>; value: number };

export function exportRolloutMetrics(
  m: Metrics,
  s: {
    config: AutoupdateConfig;
    rollout: Rollout | undefined;
    /** The agents that count (seen recently). */
    present: readonly AgentRecord[];
    lastReconcileMs: number;
    reconcileCount: number;
    finds: readonly FindCount[];
  },
): void {
  const byAgent = new Map<string, Row>();
  for (const a of s.present) {
    // The group a report names is the agent's word (any string an agent token sends): counted, as in the
    // rollout, under the group it resolves to (unknown or empty: the last group), so the label values are
    // the configured groups and a token cannot grow the metric without bound.
    const labels = { group: resolveGroup(s.config, a.group).name, version: a.version, state: a.state };
    const k = JSON.stringify(labels);
    const row = byAgent.get(k) ?? { labels, value: 0 };
    row.value++;
    byAgent.set(k, row);
  }
  m.setGauge("upkeep_agents", "present agents by group, version and state", [...byAgent.values()]);
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
