/**
 * The two operator resources of DESIGN §2, as validated plain data (camelCase). The wire form (YAML or
 * JSON, snake_case, Teleport-shaped) is read by `parseAutoupdateConfig` / `parseAutoupdateVersion` and
 * written back by `formatAutoupdateConfig` / `formatAutoupdateVersion`.
 */
import type { Problem } from "../validate/problem.ts";
import type { DaySpec } from "../window/types.ts";

export type ToolsMode = "enabled" | "disabled";
export type AgentMode = "enabled" | "disabled" | "suspended";
export type Strategy = "halt-on-error" | "time-based";
export type AgentSchedule = "regular" | "immediate";

export const TOOLS_MODES: readonly ToolsMode[] = ["enabled", "disabled"];
export const AGENT_MODES: readonly AgentMode[] = ["enabled", "disabled", "suspended"];
export const STRATEGIES: readonly Strategy[] = ["halt-on-error", "time-based"];
export const AGENT_SCHEDULES: readonly AgentSchedule[] = ["regular", "immediate"];

export type ResourceKind = "autoupdate_config" | "autoupdate_version";

/** Both resources are singletons: `metadata.name`, when given, must be the kind with `-` for `_`. */
export type ResourceMetadata = {
  name: string;
  description?: string;
  labels?: Record<string, string>;
};

/** One group of `spec.agents.schedules.regular`, in rollout order. */
export type AgentGroupConfig = {
  /** `[a-z0-9_-]{1,64}`, unique in the schedule. */
  name: string;
  /** Canonical day names (`"Mon"`..`"Sun"`) or `["*"]`. Default `Mon, Tue, Wed, Thu`. */
  days: DaySpec[];
  /** UTC hour the group's window opens, 0..23. Required. */
  startHour: number;
  /** halt-on-error: minimum hours between the previous group's start and this one's. Default 0. */
  waitHours: number;
  /** halt-on-error: agents updated first as canaries, 0..5. Default 0 (no canary phase). */
  canaryCount: number;
};

export type AgentsConfig = {
  /** Default `enabled`. The effective mode is the more restrictive of this and the version resource's. */
  mode: AgentMode;
  /** Default `halt-on-error`. */
  strategy: Strategy;
  /**
   * time-based: how long each group's window stays open, 10..1440 (`maintenance_window_duration`, or the
   * alias `maintenance_window_minutes`). Default 60 (kept, unused, for halt-on-error).
   */
  maintenanceWindowMinutes: number;
  /** Never empty. Default: one group `default`, `Mon`..`Thu`, 12:00 UTC. */
  groups: AgentGroupConfig[];
};

export type AutoupdateConfig = {
  kind: "autoupdate_config";
  metadata: ResourceMetadata;
  spec: {
    tools: { mode: ToolsMode };
    agents: AgentsConfig;
  };
};

export type AgentsVersion = {
  /** Normalized semver (no leading `v`). Served to agents before their group's turn and on rollback. */
  startVersion: string;
  /** Normalized semver. Served to agents whose group has started. */
  targetVersion: string;
  /** Default `regular`. */
  schedule: AgentSchedule;
  /** Default `enabled`. */
  mode: AgentMode;
};

export type AutoupdateVersion = {
  kind: "autoupdate_version";
  metadata: ResourceMetadata;
  spec: {
    /** Absent: tools are told the server's own version. */
    tools?: { targetVersion: string };
    /** Absent: agents are told the server's own version and not to update. */
    agents?: AgentsVersion;
  };
};

/** The non-throwing result of checking a resource: the value, or every problem (core/validate). */
export type CheckResult<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

export const DEFAULT_GROUP_NAME = "default";
export const DEFAULT_GROUP_DAYS: readonly DaySpec[] = ["Mon", "Tue", "Wed", "Thu"];
export const DEFAULT_GROUP_START_HOUR = 12;
export const DEFAULT_MAINTENANCE_WINDOW_MINUTES = 60;
export const MAX_CANARY_COUNT = 5;
export const MAX_WAIT_HOURS = 720;
