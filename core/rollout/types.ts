/**
 * Rollout state and decisions (DESIGN §3), as plain JSON-serializable data. Instants are epoch
 * milliseconds (numbers) so the server can store them as they are.
 */
import type { AgentMode, AgentSchedule, Strategy } from "../resources/types.ts";

export type GroupState = "unstarted" | "canary" | "active" | "done" | "rolledback";
export const GROUP_STATES: readonly GroupState[] = ["unstarted", "canary", "active", "done", "rolledback"];

/** An agent chosen to update first in a halt-on-error group with `canary_count > 0`. */
export type Canary = {
  updaterId: string;
  hostname: string;
  /** True once it reported running the target version and healthy. */
  success: boolean;
};

/** The rollout status of one group (one per `spec.agents.schedules.regular` entry, in that order). */
export type GroupStatus = {
  name: string;
  state: GroupState;
  /** When the group last left `unstarted` (or, time-based, when its current activation began). */
  startTime?: number;
  /** When `state` last changed (or the rollout began). */
  lastTransition: number;
  /** Why the group is in its state, or what it waits for. One sentence for operators. */
  reason: string;
  canaries: Canary[];
  /** Agents reporting when the group started. */
  initialCount: number;
  /**
   * Set by an operator start or force: the counts the action saw may be older than the last reports, so
   * the next reconcile takes `initialCount` from its own count (then clears this).
   */
  initialPending?: boolean;
  /** Agents of the group reporting now (as of the last reconcile). */
  presentCount: number;
  /** Of those, running the (capped) target version and healthy. */
  upToDateCount: number;
  /** Of those, failed on the target (update rolled back on the host, or unhealthy on the target). */
  failedCount: number;
  /**
   * An operator forced this activation: failures no longer roll the group back on their own (they still
   * show in the counts, and the operator can roll back). Cleared when the group leaves `active`.
   */
  forced?: boolean;
};

/**
 * One rollout: a pair of versions under one strategy and schedule. A new pair, strategy or schedule starts a
 * new rollout (as Teleport resets `autoupdate_agent_rollout`'s status; a mode change does not).
 */
export type Rollout = {
  startVersion: string;
  targetVersion: string;
  strategy: Strategy;
  /** `spec.agents.schedule` it was made for (absent in a rollout stored before upkeep kept it: any). */
  schedule?: AgentSchedule;
  /** When this rollout began. */
  startedAt: number;
  /**
   * True when it replaced an earlier rollout (new versions, strategy or schedule): its groups do not start
   * in a window that opened before `startedAt` (Teleport's `rolloutChangedInWindow`).
   */
  replaced?: boolean;
  groups: GroupStatus[];
};

/**
 * What the server knows about one agent, from its last report. Pass only PRESENT agents to `reconcile`
 * (the server decides what "present" means, e.g. reported within the last 10 minutes).
 */
export type AgentReport = {
  updaterId: string;
  hostname: string;
  /** The group the agent says it is in; unknown or empty means the last group. */
  group?: string;
  /** The version it runs now. */
  version?: string;
  /** Its daemon's health after its last update (or now). */
  healthy: boolean;
  /** The version of its last FAILED update attempt (rolled back on the host and marked skip), if any. */
  failedVersion?: string;
};

/** What the rollout counts of an agent: what it runs, whether healthy, what its last failed update was. */
export type AgentKind = Pick<AgentReport, "version" | "healthy" | "failedVersion">;

/**
 * One group's reporting (present) agents as a server keeps them counted, instead of a list to walk: how
 * many agents of each kind (each kind once), and the agents themselves on demand. `reconcile` reads the
 * counts at every step; it lists the members only to choose canaries, and looks canaries up by id.
 */
export type GroupAgents = {
  kinds: Iterable<{ kind: AgentKind; count: number }>;
  members: () => readonly AgentReport[];
  /** A reporting agent of this group, or undefined (absent, or counted in another group). */
  member: (updaterId: string) => AgentReport | undefined;
};

export type RolloutEventKind = "rollout" | "transition" | "canaries" | "group_added" | "group_removed";

/** Something that changed, for the server's log and audit trail. */
export type RolloutEvent = {
  at: number;
  kind: RolloutEventKind;
  group?: string;
  from?: GroupState;
  to?: GroupState;
  message: string;
};

/**
 * A version the server changed under `server_version` (DESIGN §2): `capped` when the rollout's version was
 * newer than the server, `raised` when it was too old to work with it. `from` is the rollout's version,
 * `to` the one served, `why` one sentence for operators.
 */
export type VersionAdjustment = {
  kind: "capped" | "raised";
  from: string;
  to: string;
  why: string;
};

/** What one agent is told (DESIGN §3 matrix), in the wire's snake_case, plus why. */
export type AgentDecision = {
  /** `""` when no version is named (no `spec.agents` yet): never an update. */
  agent_version: string;
  agent_auto_update: boolean;
  reason: string;
  /** The group the agent was placed in (an unknown or empty group is the last group). */
  group: string;
  group_state: GroupState;
  /** True when `agent_version` is not the rollout's version because of the server cap. */
  capped: boolean;
  /** The cap or raise behind `capped`, or null (also always null without `server_version`). */
  adjusted: VersionAdjustment | null;
  /** The effective agent mode (the more restrictive of the two resources). */
  mode: AgentMode;
  /** True when this agent is one of its group's canaries. */
  canary: boolean;
};

/** What client tools are told. */
export type ToolsDecision = {
  /** `""` when no version is named (no tools target and no `server_version`): never an update. */
  tools_version: string;
  tools_auto_update: boolean;
  reason: string;
  /** The tools target replaced by the server version (not compatible with it), or null. */
  adjusted: VersionAdjustment | null;
};

/** The result of an operator action. */
export type ActionResult = { rollout: Rollout; event: RolloutEvent };

/** Default share of a group's reporting agents that may fail before a halt-on-error group is rolled back. */
export const DEFAULT_MAX_FAILURE_RATIO = 0.1;
