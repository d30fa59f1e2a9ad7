/**
 * `admin get rollout --format teleport` and `admin get agents --report`: upkeep's views in the shapes
 * Teleport's tooling reads. Pure: built from the JSON the server answers (`GET /v1/rollout`, the
 * autoupdate_config resource, pages of `GET /v1/agents`).
 */
import type { GroupView, RolloutView } from "../../core/wire/mod.ts";

/** Teleport's `AutoUpdateAgentGroupState` names, by upkeep's group state. */
export const GROUP_STATE_NAMES: Record<string, string> = {
  unstarted: "AUTO_UPDATE_AGENT_GROUP_STATE_UNSTARTED",
  active: "AUTO_UPDATE_AGENT_GROUP_STATE_ACTIVE",
  done: "AUTO_UPDATE_AGENT_GROUP_STATE_DONE",
  rolledback: "AUTO_UPDATE_AGENT_GROUP_STATE_ROLLEDBACK",
  canary: "AUTO_UPDATE_AGENT_GROUP_STATE_CANARY",
};

/** Teleport's `AutoUpdateAgentRolloutState` names, by the view's rollout `state`. */
export const ROLLOUT_STATE_NAMES: Record<string, string> = {
  unstarted: "AUTO_UPDATE_AGENT_ROLLOUT_STATE_UNSTARTED",
  active: "AUTO_UPDATE_AGENT_ROLLOUT_STATE_ACTIVE",
  done: "AUTO_UPDATE_AGENT_ROLLOUT_STATE_DONE",
  rolledback: "AUTO_UPDATE_AGENT_ROLLOUT_STATE_ROLLEDBACK",
};

/** The parts of the autoupdate_config resource (as GET answers it) the rollout resource repeats. */
type ConfigWire = {
  spec?: {
    agents?: {
      mode?: string;
      maintenance_window_duration?: string;
      schedules?: {
        regular?: { name: string; days?: string[]; start_hour?: number; wait_hours?: number }[];
      };
    };
  };
};

type Obj = Record<string, unknown>;

/** A protobuf JSON timestamp (RFC 3339, no fraction when it is zero), or undefined. */
function timestamp(iso: string | null | undefined): string | undefined {
  if (iso === null || iso === undefined) return undefined;
  return iso.replace(/\.000Z$/, "Z");
}

/** protobuf JSON leaves out zero values and writes 64-bit integers as strings. */
function u64(n: number | undefined): string | undefined {
  return n === undefined || n === 0 ? undefined : String(n);
}

/** Drops the keys whose value is undefined (protobuf JSON omits unset fields). */
function compact(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const MODE_RANK: Record<string, number> = { enabled: 0, suspended: 1, disabled: 2 };

/**
 * The rollout as Teleport's `autoupdate_agent_rollout` resource (`tctl get autoupdate_agent_rollout`):
 * `spec` (versions, schedule, `autoupdate_mode`, strategy, window) and `status` (groups with their
 * `AUTO_UPDATE_AGENT_GROUP_STATE_*`, counts, canaries, the `config_*` of each group; the rollout's
 * `AUTO_UPDATE_AGENT_ROLLOUT_STATE_*` and start time), with protobuf JSON's conventions: snake_case names,
 * enum names, unset and zero fields left out, 64-bit counts as strings. Undefined with no rollout (Teleport
 * has none either).
 */
export function teleportRollout(view: RolloutView, config: ConfigWire): Obj | undefined {
  if (view.start_version === null || view.target_version === null) return undefined;
  const agents = config.spec?.agents ?? {};
  const groupsConfig = new Map((agents.schedules?.regular ?? []).map((g) => [g.name, g]));
  const mode =
    view.effective_mode ??
    [agents.mode ?? "enabled", view.mode ?? "enabled"].reduce((a, b) =>
      (MODE_RANK[a] ?? 0) >= (MODE_RANK[b] ?? 0) ? a : b,
    );
  const spec = compact({
    start_version: view.start_version,
    target_version: view.target_version,
    schedule: view.schedule ?? "regular",
    autoupdate_mode: mode,
    strategy: view.strategy,
    maintenance_window_duration:
      view.strategy === "time-based" ? (agents.maintenance_window_duration ?? "3600s") : undefined,
  });
  const groups = view.groups.map((g) => teleportGroup(g, groupsConfig.get(g.name)));
  const state = view.state ?? undefined;
  const status = compact({
    groups,
    state: state === undefined ? undefined : ROLLOUT_STATE_NAMES[state],
    start_time: timestamp(view.started_at),
  });
  return {
    kind: "autoupdate_agent_rollout",
    version: "v1",
    metadata: { name: "autoupdate-agent-rollout" },
    spec,
    status,
  };
}

function teleportGroup(
  g: GroupView,
  c: { days?: string[]; start_hour?: number; wait_hours?: number } | undefined,
): Obj {
  return compact({
    name: g.name,
    start_time: timestamp(g.start_time),
    state: GROUP_STATE_NAMES[g.state] ?? "AUTO_UPDATE_AGENT_GROUP_STATE_UNSPECIFIED",
    last_update_time: timestamp(g.last_transition),
    last_update_reason: g.reason || undefined,
    config_days: c?.days,
    config_start_hour: c?.start_hour || undefined,
    config_wait_hours: c?.wait_hours || undefined,
    initial_count: u64(g.initial_count),
    present_count: u64(g.present_count),
    up_to_date_count: u64(g.up_to_date_count),
    canary_count: u64(g.canary_count),
    canaries:
      g.canaries.length === 0
        ? undefined
        : g.canaries.map((k) =>
            compact({ updater_id: k.updater_id, hostname: k.hostname, success: k.success || undefined }),
          ),
  });
}

/** `tctl autoupdate agents report --format json`: groups, versions, and one count per (version, group). */
export interface AgentReport {
  /** Agents counted (present ones). */
  agent_count: number;
  /** Groups in schedule order, the last one the catch-all. */
  groups: string[];
  /** Versions, oldest first. */
  versions: string[];
  counts: { group: string; version: string; count: number }[];
}

/**
 * The per-group version histogram of `tctl autoupdate agents report`, from each group's present agents
 * (`byGroup`: group name -> versions its agents run, one entry per agent). Every (version, group) pair
 * is listed, zero counts included, as tctl does.
 */
export function agentReport(
  byGroup: readonly [string, readonly string[]][],
  compare: (a: string, b: string) => number,
): AgentReport {
  const versions = [...new Set(byGroup.flatMap(([, vs]) => vs))].sort(compare);
  const counts = versions.flatMap((version) =>
    byGroup.map(([group, vs]) => ({ group, version, count: vs.filter((v) => v === version).length })),
  );
  return {
    agent_count: byGroup.reduce((n, [, vs]) => n + vs.length, 0),
    groups: byGroup.map(([g]) => g),
    versions,
    counts,
  };
}
