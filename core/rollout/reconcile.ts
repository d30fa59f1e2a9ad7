import { capAgentVersion } from "../compat/cap_agent_version.ts";
import type { CompatPolicy } from "../compat/types.ts";
import type { AgentGroupConfig, AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import { type Ctx, stepHaltOnError, stepImmediate, stepTimeBased } from "./_steps.ts";
import { agentsSummary, type Tally, tally, tallyCounted } from "./_tally.ts";
import { iso, toMs, unstartedStatus } from "./_util.ts";
import { createRollout } from "./create_rollout.ts";
import { effectiveAgentMode } from "./effective_agent_mode.ts";
import {
  type AgentReport,
  DEFAULT_MAX_FAILURE_RATIO,
  type GroupAgents,
  type GroupStatus,
  type Rollout,
  type RolloutEvent,
} from "./types.ts";

export type ReconcileInput = {
  config: AutoupdateConfig;
  version: AutoupdateVersion | undefined;
  /** The stored rollout, or `undefined` before the first one. */
  rollout: Rollout | undefined;
  /** The PRESENT agents' last reports (the caller drops agents not seen recently). */
  agents?: readonly AgentReport[];
  /**
   * Instead of `agents`: each configured group's present agents as counted by the caller (a server that
   * keeps per-group counts as reports arrive), so a step costs the same whatever the fleet's size.
   */
  counted?: (group: string) => GroupAgents;
  /** The control plane's version (agents are capped at it), or `undefined`: no cap, no raise. */
  serverVersion: string | undefined;
  now: Date | number;
  /** Numbers in `[0, 1)` (e.g. `Math.random`, or `seededRandom(seed)`), to choose canaries. */
  random: () => number;
  /** The target release is flagged critical: groups may start outside their windows. */
  critical?: boolean;
  /** Share of a group's reporting agents allowed to fail (halt-on-error). Default 0.1. */
  maxFailureRatio?: number;
  policy?: CompatPolicy;
};

/** `spec.agents` of autoupdate_version. */
type AgentsVersion = NonNullable<AutoupdateVersion["spec"]["agents"]>;

export type ReconcileResult = { rollout: Rollout | undefined; events: RolloutEvent[] };

/**
 * One step of the rollout state machine (DESIGN §3), run by the server periodically (e.g. every minute)
 * and after every change. Pure: returns the new rollout and what changed.
 *
 * - No `spec.agents` in the version resource: no rollout (`undefined`).
 * - A new `start_version`/`target_version` pair, or a new strategy, starts a new rollout: every group
 *   `unstarted`. Groups added to the schedule join `unstarted`; removed groups are dropped; renaming a
 *   group is a removal plus an addition.
 * - Counts (`presentCount`, `upToDateCount`, `failedCount`) are refreshed from `agents` (or `counted`). An agent is up to
 *   date when it runs the target (capped at the server version) and is healthy; failed when its last
 *   update to the target failed, or it runs the target unhealthy. Without a server version the target is
 *   taken as given (no cap, no raise).
 * - mode `suspended` or `disabled`: no transitions at all (the rollout is frozen; counts still refresh).
 * - `schedule: immediate`: every group not rolled back becomes `active`, then `done` once complete.
 * - halt-on-error: groups in order. An `unstarted` group starts when every earlier group is `done`,
 *   `wait_hours` have passed since the previous group's start, and its window is open (or the release is
 *   critical): to `canary` with `canary_count` random reporting agents, or `active` when `canary_count`
 *   is 0 or no agent reports. `canary` -> `active` when every canary runs the target healthy;
 *   -> `rolledback` when one fails. `active` -> `rolledback` when failures exceed the threshold
 *   (`failed >= 1` and `failed > maxFailureRatio * present`); -> `done` when every reporting agent is up
 *   to date or failed within the threshold (an empty group is done at once). A `rolledback` group halts
 *   every later group (they wait for an earlier group to be done; one already in `canary`/`active` goes
 *   back to `unstarted`). A group an operator forced is neither halted nor rolled back automatically.
 * - time-based: a group is `active` while its window is open (and for `maintenance_window_minutes` after
 *   an operator start), `done` after; it re-activates at every window. `unstarted` until its first window
 *   (a critical release activates it at once). No automatic rollback under time-based.
 */
export function reconcile(input: ReconcileInput): ReconcileResult {
  const now = toMs(input.now);
  const { config, version } = input;
  const events: RolloutEvent[] = [];
  const av = version?.spec.agents;
  if (av === undefined) {
    if (input.rollout !== undefined) {
      events.push({
        at: now,
        kind: "rollout",
        message: "no agent versions set (autoupdate_version has no spec.agents): rollout cleared",
      });
    }
    return { rollout: undefined, events };
  }
  const rollout = currentRollout(input.rollout, config, av, now, events);
  const target =
    input.serverVersion === undefined
      ? av.targetVersion
      : formatVersion(
          capAgentVersion(parseVersion(av.targetVersion), parseVersion(input.serverVersion), input.policy)
            .version,
        );
  const tallies =
    input.counted === undefined
      ? tally(config, input.agents ?? [], target)
      : tallyCounted(config, input.counted, target);
  // A finished group whose reason counts agents (halt-on-error, immediate) keeps a reason that agrees with
  // its counts.
  const countedDone = config.spec.agents.strategy === "halt-on-error" || av.schedule === "immediate";
  const groups = alignGroups(rollout, config, now, events).map((g) =>
    recount(g, tallies.get(g.name) as Tally, target, countedDone),
  );
  if (effectiveAgentMode(config, version) === "enabled") {
    const ctx: Ctx = {
      now,
      config,
      target,
      random: input.random,
      critical: input.critical ?? false,
      maxFailureRatio: input.maxFailureRatio ?? DEFAULT_MAX_FAILURE_RATIO,
      tallies,
      events,
      rolloutStart: rollout.replaced === true ? rollout.startedAt : Number.NEGATIVE_INFINITY,
    };
    advance(ctx, groups, av.schedule);
  }
  // Nothing changed: hand back the very same object, so the caller can skip a write.
  if (events.length === 0 && rollout === input.rollout && sameGroups(rollout.groups, groups)) {
    return { rollout, events };
  }
  return { rollout: { ...rollout, groups }, events };
}

/**
 * The stored rollout, or a new one (every group unstarted) when `rolloutResetReason` says so. A stored
 * rollout from before upkeep kept the schedule adopts the current one.
 */
function currentRollout(
  stored: Rollout | undefined,
  config: AutoupdateConfig,
  av: AgentsVersion,
  now: number,
  events: RolloutEvent[],
): Rollout {
  const strategy = config.spec.agents.strategy;
  const why = rolloutResetReason(stored, config, av);
  if (stored !== undefined && why === undefined)
    return stored.schedule === undefined ? { ...stored, schedule: av.schedule } : stored;
  events.push({
    at: now,
    kind: "rollout",
    message: `new rollout ${av.startVersion} -> ${av.targetVersion} (${strategy}; ${why ?? "first rollout"}): every group unstarted`,
  });
  return createRollout({
    config,
    startVersion: av.startVersion,
    targetVersion: av.targetVersion,
    schedule: av.schedule,
    replaced: stored !== undefined,
    now,
  });
}

/**
 * Why `stored` must give way to a new rollout (every group `unstarted`) under these resources, or
 * `undefined` when it goes on. As Teleport's reconciler resets `autoupdate_agent_rollout`'s status: a new
 * `start_version` or `target_version`, a new `strategy`, or a new `schedule` (`regular` <-> `immediate`:
 * groups done under `immediate` say nothing of a regular rollout). A mode change does not reset. A
 * rollout stored without a schedule (older upkeep) is not reset for it. Pure: the server needs no call of
 * its own, `reconcile` (run after every apply) applies it.
 */
export function rolloutResetReason(
  stored: Rollout | undefined,
  config: AutoupdateConfig,
  av: AgentsVersion,
): string | undefined {
  if (stored === undefined) return "first rollout";
  const strategy = config.spec.agents.strategy;
  if (stored.startVersion !== av.startVersion || stored.targetVersion !== av.targetVersion)
    return `versions changed from ${stored.startVersion} -> ${stored.targetVersion}`;
  if (stored.strategy !== strategy) return `strategy changed from ${stored.strategy}`;
  if (stored.schedule !== undefined && stored.schedule !== av.schedule)
    return `schedule changed from ${stored.schedule}`;
  return undefined;
}

/** The statuses in schedule order: new groups unstarted, removed groups dropped (each an event). */
function alignGroups(
  rollout: Rollout,
  config: AutoupdateConfig,
  now: number,
  events: RolloutEvent[],
): GroupStatus[] {
  const known = new Map(rollout.groups.map((g) => [g.name, g]));
  const names = new Set(config.spec.agents.groups.map((g) => g.name));
  for (const g of rollout.groups) {
    if (!names.has(g.name))
      events.push({
        at: now,
        kind: "group_removed",
        group: g.name,
        message: `group ${g.name} removed from the schedule`,
      });
  }
  return config.spec.agents.groups.map((gc) => {
    const g = known.get(gc.name);
    if (g !== undefined) return g;
    events.push({
      at: now,
      kind: "group_added",
      group: gc.name,
      message: `group ${gc.name} added to the schedule: unstarted`,
    });
    return unstartedStatus(gc.name, now, "added to the schedule: not started yet");
  });
}

/**
 * The group's counts from its tally. A `done` group whose reason counts agents (`countedDone`) and whose
 * counts moved after it finished (a host rolled back on its own, one joined) says what the agents run now,
 * from the same tally, and since when the group is done.
 */
function recount(g: GroupStatus, t: Tally, target: string, countedDone: boolean): GroupStatus {
  const next = { ...g, presentCount: t.present, upToDateCount: t.upToDate, failedCount: t.failed };
  if (g.initialPending === true) {
    // Started by an operator since the last step: the agents there at its start are those counted now.
    const { initialPending: _done, ...rest } = next;
    return { ...rest, initialCount: t.present };
  }
  const moved = g.presentCount !== t.present || g.upToDateCount !== t.upToDate || g.failedCount !== t.failed;
  if (g.state !== "done" || !countedDone || !moved) return next;
  return { ...next, reason: `done since ${iso(g.lastTransition)}; now ${agentsSummary(t, target)}` };
}

/** Steps each group in order (in place), as far as it goes in this step. */
function advance(ctx: Ctx, groups: GroupStatus[], schedule: AgentsVersion["schedule"]): void {
  const strategy = ctx.config.spec.agents.strategy;
  for (let i = 0; i < groups.length; i++) {
    const gc = ctx.config.spec.agents.groups[i] as AgentGroupConfig;
    // Up to three transitions in one step (unstarted -> canary -> active -> done for an empty group).
    for (let k = 0; k < 4; k++) {
      const g = groups[i] as GroupStatus;
      const next =
        schedule === "immediate"
          ? stepImmediate(ctx, g)
          : strategy === "halt-on-error"
            ? stepHaltOnError(ctx, groups, i, gc)
            : stepTimeBased(ctx, g, gc);
      if (next === g) break;
      groups[i] = next;
    }
  }
}

function sameGroups(a: readonly GroupStatus[], b: readonly GroupStatus[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i] || JSON.stringify(g) === JSON.stringify(b[i]));
}
