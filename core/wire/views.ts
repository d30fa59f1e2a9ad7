/**
 * What the native API answers (DESIGN §4), as the server builds it (server/views.ts, server/app.ts) and
 * `upkeep admin` reads it (server/client.ts). Snake_case; `null` where a value is not set. Types only, and
 * the operator actions on a group.
 */
import type { GroupState, VersionAdjustment } from "../rollout/types.ts";
import type { ReceivedReport } from "./report.ts";

export type { ResourceKind } from "../resources/types.ts";

/** `POST /v1/rollout/groups/NAME/ACTION`. */
export const GROUP_ACTIONS = ["start", "force", "done", "rollback"] as const;
export type GroupAction = (typeof GROUP_ACTIONS)[number];

export function isGroupAction(s: string): s is GroupAction {
  return (GROUP_ACTIONS as readonly string[]).includes(s);
}

/** A resource as stored and answered (`GET /v1/resources/KIND`). */
export type ResourceView = { kind: string; spec: Record<string, unknown> } & Record<string, unknown>;

/** `GET /v1/server`. */
export interface ServerView {
  /** null while nobody has set it. */
  server_version: string | null;
  product: string;
  cluster_name: string;
  edition: string;
  fips: boolean;
  /** This server's own upkeep version (null when not known). */
  upkeep_version: string | null;
  /**
   * What the admin set (`kind: server` `updater_version`): `auto` (the default: this server's own version
   * when the published upkeep-releases.json lists it), `off`, or a pinned version.
   */
  updater_version_setting: string;
  /** The upkeep version agents' updaters are told to run now (find `upkeep.updater_version`), or null: none. */
  updater_version: string | null;
  /** Why that one (or none). */
  updater_version_reason: string;
}

export interface CanaryView {
  updater_id: string;
  hostname: string;
  success: boolean;
}

/** A version the server capped or raised, and the resource field that named it. */
export type AdjustmentView = VersionAdjustment & { field: string };

/** One group of `GET /v1/rollout`: its stored state and what its agents are told now. */
export interface GroupView {
  name: string;
  state: GroupState;
  /** The version the group's agents are told now (after the server's cap or raise), or null. */
  effective_version: string | null;
  auto_update: boolean;
  /** Why they are told that. */
  answer: string;
  adjusted: VersionAdjustment | null;
  start_time: string | null;
  last_transition: string;
  reason: string;
  canaries: CanaryView[];
  initial_count: number;
  present_count: number;
  up_to_date_count: number;
  failed_count: number;
  forced: boolean;
  /** The last group: agents with an unknown or no group count here (`tctl autoupdate agents status`). */
  catch_all?: boolean;
  /** The group's `canary_count` in autoupdate_config (0: no canary phase). */
  canary_count?: number;
  /** Its canaries that run the target healthy. */
  canary_success_count?: number;
}

/** What client tools are told now (null when that cannot be decided). */
export interface ToolsView {
  version: string;
  auto_update: boolean;
  reason: string;
  adjusted: VersionAdjustment | null;
}

export interface EventView {
  time: string;
  group: string;
  from: string;
  to: string;
  reason: string;
}

/** `GET /v1/rollout`, and the answer of a group action. */
export interface RolloutView {
  start_version: string | null;
  target_version: string | null;
  /** The target after the server's cap or raise: what the counts are judged against. */
  effective_target_version: string | null;
  target_adjusted: VersionAdjustment | null;
  strategy: string;
  schedule: string | null;
  mode: string | null;
  /**
   * The agent mode in force: the stricter of autoupdate_config's and autoupdate_version's (Teleport's
   * `autoupdate_mode`), null with no rollout.
   */
  effective_mode?: string | null;
  /** Teleport's rollout state: unstarted, active, done or rolledback; null with no rollout. */
  state?: string | null;
  server_version: string | null;
  /** One sentence: how server_version bounds what agents are told. */
  server_cap: string;
  started_at: string | null;
  tools: ToolsView | null;
  groups: GroupView[];
  /** Oldest first, up to 100. */
  events: EventView[];
  /** Every cap or raise server_version makes to the versions the resources name. */
  adjusted: AdjustmentView[];
}

/** One agent of `GET /v1/agents`: its last report, and whether it still counts. */
export type AgentView = ReceivedReport & {
  /** When the server received that report. */
  last_seen: string;
  present: boolean;
};

/**
 * `GET /v1/agents`: one page of agents by updater id, filtered (`group`, `version`, `state`, `hostname`
 * prefix, `present`), and how many match. Without parameters: the first 100 agents, and `next`.
 */
export interface AgentsPage {
  agents: AgentView[];
  /** How many agents match the filters, over every page. */
  total: number;
  /** The page size used (`limit`: 1..1000, default 100). */
  limit: number;
  /** The `cursor` of the next page (send the same filters with it), or null on the last page. */
  next: string | null;
}

/** The query of `GET /v1/agents`, each part optional (`admin get agents` flags). */
export interface AgentsFilter {
  group?: string;
  version?: string;
  state?: string;
  /** Host names starting with this. */
  hostname?: string;
  present?: boolean;
  limit?: number;
  /** The `next` of the page before. */
  cursor?: string;
}

export interface ArtifactView {
  name: string;
  size: number;
  sha256: string;
  uploaded?: string;
}

/** `GET /v1/releases`. */
export interface ReleasesView {
  product: string;
  critical: string[];
  /** The published release manifest (null: none); `warning` when it expires within 7 days or has expired. */
  manifest: {
    serial: number;
    expires: string;
    floor: string | null;
    versions: string[];
    warning: string | null;
  } | null;
  artifacts: ArtifactView[];
}

/** One token of `GET /v1/tokens` (never its hash). */
export interface TokenView {
  id: string;
  type: string;
  name: string;
  created: string;
}

/** `POST /v1/tokens`: the token itself, shown once. */
export interface NewToken {
  type: string;
  name: string;
  token: string;
}
