// Builders for the dashboard's view-model tests (not part of the API; not re-exported from mod.ts).
import { parseAutoupdateConfig } from "../resources/parse_autoupdate_config.ts";
import type { AutoupdateConfig } from "../resources/types.ts";
import type { AgentView, GroupView, RolloutView } from "../wire/views.ts";

/** 2026-11-23T08:30:00Z, a Monday. */
export const NOW = Date.UTC(2026, 10, 23, 8, 30);
export const HOUR = 3_600_000;
export const iso = (ms: number) => new Date(ms).toISOString();

export function config(groups: Record<string, unknown>[], strategy = "halt-on-error"): AutoupdateConfig {
  return parseAutoupdateConfig({
    kind: "autoupdate_config",
    spec: { agents: { strategy, schedules: { regular: groups } } },
  });
}

export function group(name: string, extra: Partial<GroupView> = {}): GroupView {
  return {
    name,
    state: "unstarted",
    effective_version: "1.0.0",
    auto_update: false,
    answer: "stay",
    adjusted: null,
    start_time: null,
    last_transition: iso(NOW - HOUR),
    reason: "waiting",
    canaries: [],
    initial_count: 0,
    present_count: 0,
    up_to_date_count: 0,
    failed_count: 0,
    forced: false,
    ...extra,
  };
}

export function view(groups: GroupView[], extra: Partial<RolloutView> = {}): RolloutView {
  return {
    start_version: "1.0.0",
    target_version: "1.1.0",
    effective_target_version: "1.1.0",
    target_adjusted: null,
    strategy: "halt-on-error",
    schedule: "regular",
    mode: "enabled",
    server_version: null,
    server_cap: "none: server_version is not set",
    started_at: iso(NOW - 2 * HOUR),
    tools: null,
    groups,
    events: [],
    adjusted: [],
    ...extra,
  };
}

export function agent(id: string, extra: Partial<AgentView> = {}): AgentView {
  return {
    updater_id: id,
    hostname: `host-${id}`,
    group: "prod",
    version: "1.0.0",
    state: "ok",
    last_seen: iso(NOW),
    present: true,
    ...extra,
  };
}
