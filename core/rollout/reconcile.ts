import { capAgentVersion } from "../compat/cap_agent_version.ts";
import type { CompatPolicy } from "../compat/types.ts";
import type { AgentGroupConfig, AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import { currentWindow } from "../window/current_window.ts";
import { nextWindowOpen } from "../window/next_window_open.ts";
import { HOUR_MS, iso, MINUTE_MS, sameVersion, toMs, unstartedStatus } from "./_util.ts";
import { chooseCanaries } from "./choose_canaries.ts";
import { createRollout } from "./create_rollout.ts";
import { effectiveAgentMode } from "./effective_agent_mode.ts";
import { groupWindow } from "./group_window.ts";
import { resolveGroup } from "./resolve_group.ts";
import {
  type AgentReport,
  DEFAULT_MAX_FAILURE_RATIO,
  type GroupState,
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
  agents: readonly AgentReport[];
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

export type ReconcileResult = { rollout: Rollout | undefined; events: RolloutEvent[] };

type Tally = { members: AgentReport[]; present: number; upToDate: number; failed: number };

type Ctx = {
  now: number;
  config: AutoupdateConfig;
  target: string;
  random: () => number;
  critical: boolean;
  maxFailureRatio: number;
  tallies: Map<string, Tally>;
  events: RolloutEvent[];
};

/**
 * One step of the rollout state machine (DESIGN §3), run by the server periodically (e.g. every minute)
 * and after every change. Pure: returns the new rollout and what changed.
 *
 * - No `spec.agents` in the version resource: no rollout (`undefined`).
 * - A new `start_version`/`target_version` pair, or a new strategy, starts a new rollout: every group
 *   `unstarted`. Groups added to the schedule join `unstarted`; removed groups are dropped; renaming a
 *   group is a removal plus an addition.
 * - Counts (`presentCount`, `upToDateCount`, `failedCount`) are refreshed from `agents`. An agent is up to
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

  let rollout = input.rollout;
  const strategy = config.spec.agents.strategy;
  if (
    rollout === undefined ||
    rollout.startVersion !== av.startVersion ||
    rollout.targetVersion !== av.targetVersion ||
    rollout.strategy !== strategy
  ) {
    const why =
      rollout === undefined
        ? "first rollout"
        : rollout.strategy !== strategy
          ? `strategy changed from ${rollout.strategy}`
          : `versions changed from ${rollout.startVersion} -> ${rollout.targetVersion}`;
    rollout = createRollout({ config, startVersion: av.startVersion, targetVersion: av.targetVersion, now });
    events.push({
      at: now,
      kind: "rollout",
      message: `new rollout ${av.startVersion} -> ${av.targetVersion} (${strategy}; ${why}): every group unstarted`,
    });
  }

  // Align the statuses with the schedule: config order, new groups unstarted, removed groups dropped.
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
  let groups = config.spec.agents.groups.map((gc) => {
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

  const target =
    input.serverVersion === undefined
      ? av.targetVersion
      : formatVersion(
          capAgentVersion(parseVersion(av.targetVersion), parseVersion(input.serverVersion), input.policy)
            .version,
        );
  const tallies = tally(config, input.agents, target);
  // A finished group whose reason counts agents (halt-on-error, immediate) keeps a reason that agrees with
  // its counts: when they move after it finished (a host rolled back on its own, one joined), the reason
  // says what the agents run now, from the same tally, and since when the group is done.
  const countedDone = strategy === "halt-on-error" || av.schedule === "immediate";
  groups = groups.map((g) => {
    const t = tallies.get(g.name) as Tally;
    const next = { ...g, presentCount: t.present, upToDateCount: t.upToDate, failedCount: t.failed };
    const moved =
      g.presentCount !== t.present || g.upToDateCount !== t.upToDate || g.failedCount !== t.failed;
    if (g.state !== "done" || !countedDone || !moved) return next;
    return { ...next, reason: `done since ${iso(g.lastTransition)}; now ${agentsSummary(t, target)}` };
  });

  const mode = effectiveAgentMode(config, version);
  if (mode === "enabled") {
    const ctx: Ctx = {
      now,
      config,
      target,
      random: input.random,
      critical: input.critical ?? false,
      maxFailureRatio: input.maxFailureRatio ?? DEFAULT_MAX_FAILURE_RATIO,
      tallies,
      events,
    };
    for (let i = 0; i < groups.length; i++) {
      const gc = config.spec.agents.groups[i] as AgentGroupConfig;
      // Up to three transitions in one step (unstarted -> canary -> active -> done for an empty group).
      for (let k = 0; k < 4; k++) {
        const g = groups[i] as GroupStatus;
        const next =
          av.schedule === "immediate"
            ? stepImmediate(ctx, g)
            : strategy === "halt-on-error"
              ? stepHaltOnError(ctx, groups, i, gc)
              : stepTimeBased(ctx, g, gc);
        if (next === g) break;
        groups[i] = next;
      }
    }
  }
  // Nothing changed: hand back the very same object, so the caller can skip a write.
  if (events.length === 0 && rollout === input.rollout && sameGroups(rollout.groups, groups)) {
    return { rollout, events };
  }
  return { rollout: { ...rollout, groups }, events };
}

function sameGroups(a: readonly GroupStatus[], b: readonly GroupStatus[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i] || JSON.stringify(g) === JSON.stringify(b[i]));
}

function tally(config: AutoupdateConfig, agents: readonly AgentReport[], target: string): Map<string, Tally> {
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

function isUpToDate(a: AgentReport | undefined, target: string): boolean {
  return a?.healthy === true && sameVersion(a.version, target);
}

function hasFailed(a: AgentReport | undefined, target: string): boolean {
  if (a === undefined || isUpToDate(a, target)) return false;
  return sameVersion(a.failedVersion, target) || (!a.healthy && sameVersion(a.version, target));
}

function transition(
  ctx: Ctx,
  g: GroupStatus,
  to: GroupState,
  reason: string,
  extra: Partial<GroupStatus> = {},
): GroupStatus {
  ctx.events.push({
    at: ctx.now,
    kind: "transition",
    group: g.name,
    from: g.state,
    to,
    message: `group ${g.name}: ${reason}`,
  });
  const { forced: _was, ...rest } = g;
  return { ...rest, ...extra, state: to, lastTransition: ctx.now, reason };
}

/** Same group, new reason (no event); the same object when the reason is unchanged. */
function because(g: GroupStatus, reason: string): GroupStatus {
  return g.reason === reason ? g : { ...g, reason };
}

/** Leaves `unstarted`: canary phase, or straight to active. */
function begin(ctx: Ctx, g: GroupStatus, gc: AgentGroupConfig, why: string): GroupStatus {
  const t = ctx.tallies.get(g.name) as Tally;
  const started = { startTime: ctx.now, initialCount: t.present, canaries: [] };
  if (gc.canaryCount === 0) return transition(ctx, g, "active", `${why}: active`, started);
  if (t.present === 0)
    return transition(ctx, g, "active", `${why}: no agent reports, canary phase skipped`, started);
  const canaries = chooseCanaries(t.members, gc.canaryCount, ctx.random);
  ctx.events.push({
    at: ctx.now,
    kind: "canaries",
    group: g.name,
    message: `group ${g.name}: canaries ${canaries.map((c) => `${c.hostname} (${c.updaterId})`).join(", ")}`,
  });
  return transition(
    ctx,
    g,
    "canary",
    `${why}: ${plural(canaries.length, "canary", "canaries")} updating first`,
    {
      ...started,
      canaries,
    },
  );
}

function stepCanary(ctx: Ctx, g: GroupStatus, gc: AgentGroupConfig): GroupStatus {
  const t = ctx.tallies.get(g.name) as Tally;
  if (g.canaries.length === 0) {
    // Entered by an operator start: choose the canaries now.
    if (t.present === 0) return transition(ctx, g, "active", "no agent reports: canary phase skipped");
    const canaries = chooseCanaries(t.members, gc.canaryCount, ctx.random);
    ctx.events.push({
      at: ctx.now,
      kind: "canaries",
      group: g.name,
      message: `group ${g.name}: canaries ${canaries.map((c) => `${c.hostname} (${c.updaterId})`).join(", ")}`,
    });
    return { ...g, canaries, reason: `${plural(canaries.length, "canary", "canaries")} updating first` };
  }
  const byId = new Map(t.members.map((a) => [a.updaterId, a]));
  const failed = g.canaries.find((c) => hasFailed(byId.get(c.updaterId), ctx.target));
  if (failed !== undefined) {
    const a = byId.get(failed.updaterId) as AgentReport;
    const how = sameVersion(a.failedVersion, ctx.target)
      ? "its update failed"
      : "it is unhealthy on the target";
    return transition(
      ctx,
      g,
      "rolledback",
      `canary ${failed.hostname} (${failed.updaterId}) failed on ${ctx.target}: ${how}; later groups halted`,
      { canaries: g.canaries.map((c) => ({ ...c, success: false })) },
    );
  }
  const canaries = g.canaries.map((c) => ({ ...c, success: isUpToDate(byId.get(c.updaterId), ctx.target) }));
  const ok = canaries.filter((c) => c.success).length;
  if (ok === canaries.length) {
    return transition(
      ctx,
      g,
      "active",
      `${ok === 1 ? "the canary runs" : `all ${ok} canaries run`} ${ctx.target} and ${ok === 1 ? "is" : "are"} healthy`,
      { canaries },
    );
  }
  const changed = canaries.some((c, i) => c.success !== g.canaries[i]?.success);
  const reason = `waiting for canaries: ${ok} of ${canaries.length} run ${ctx.target} and are healthy`;
  return changed || g.reason !== reason ? { ...g, canaries, reason } : g;
}

function stepActive(ctx: Ctx, g: GroupStatus, rollbackOnFailures: boolean): GroupStatus {
  const { present, upToDate, failed } = ctx.tallies.get(g.name) as Tally;
  if (rollbackOnFailures && failed >= 1 && failed > ctx.maxFailureRatio * present) {
    const pct = Math.round(ctx.maxFailureRatio * 100);
    return transition(
      ctx,
      g,
      "rolledback",
      `${failed} of ${present} reporting agents failed on ${ctx.target} (more than ${pct}%): later groups halted`,
    );
  }
  if (upToDate + failed === present) {
    const t = ctx.tallies.get(g.name) as Tally;
    return transition(ctx, g, "done", agentsSummary(t, ctx.target, rollbackOnFailures));
  }
  return because(g, `updating: ${upToDate} of ${present} reporting agents run ${ctx.target}`);
}

function stepHaltOnError(ctx: Ctx, groups: GroupStatus[], i: number, gc: AgentGroupConfig): GroupStatus {
  const g = groups[i] as GroupStatus;
  switch (g.state) {
    case "unstarted": {
      const blocker = groups.slice(0, i).find((e) => e.state !== "done");
      if (blocker !== undefined) {
        const halted = blocker.state === "rolledback" ? "halted: " : "";
        return because(g, `${halted}waiting for earlier group ${blocker.name} (${blocker.state})`);
      }
      const prev = groups[i - 1];
      if (prev?.startTime !== undefined && gc.waitHours > 0) {
        const until = prev.startTime + gc.waitHours * HOUR_MS;
        if (ctx.now < until) {
          return because(
            g,
            `waiting until ${iso(until)} (wait_hours ${gc.waitHours} after ${prev.name} started)`,
          );
        }
      }
      const w = groupWindow(ctx.config, gc);
      if (currentWindow(w, ctx.now) !== undefined) return begin(ctx, g, gc, "its window is open");
      if (ctx.critical) return begin(ctx, g, gc, "critical release: started outside its window");
      return because(g, `waiting for its window: next opens ${iso(nextWindowOpen(w, ctx.now).getTime())}`);
    }
    case "canary":
    case "active": {
      // An earlier group rolled back (by its agents or an operator) after this one started: this one
      // halts too, unless an operator forced it (force skips the order of groups on purpose).
      const rolledBack = groups.slice(0, i).find((e) => e.state === "rolledback");
      if (rolledBack !== undefined && g.forced !== true) {
        return transition(
          ctx,
          g,
          "unstarted",
          `halted: earlier group ${rolledBack.name} was rolled back (hosts already updated stay where they are)`,
          { canaries: [] },
        );
      }
      return g.state === "canary" ? stepCanary(ctx, g, gc) : stepActive(ctx, g, g.forced !== true);
    }
    default:
      return g;
  }
}

function stepTimeBased(ctx: Ctx, g: GroupStatus, gc: AgentGroupConfig): GroupStatus {
  if (g.state === "rolledback") return g;
  const w = groupWindow(ctx.config, gc);
  const span = currentWindow(w, ctx.now);
  const duration = ctx.config.spec.agents.maintenanceWindowMinutes * MINUTE_MS;
  const t = ctx.tallies.get(g.name) as Tally;
  const active = g.state === "active" || g.state === "canary";
  if (span !== undefined) {
    const start = span.start.getTime();
    const reason = `window open until ${iso(span.end.getTime())}`;
    if (!active) return transition(ctx, g, "active", reason, { startTime: start, initialCount: t.present });
    // Already active (an earlier window or an operator start): extend to this window.
    const until = (g.startTime ?? start) + duration;
    return until < span.end.getTime() ? { ...g, startTime: start, reason } : g;
  }
  if (active && (g.startTime === undefined || ctx.now >= g.startTime + duration)) {
    return transition(
      ctx,
      g,
      "done",
      `window closed: next opens ${iso(nextWindowOpen(w, ctx.now).getTime())}`,
    );
  }
  if (g.state === "unstarted" && ctx.critical) {
    return transition(ctx, g, "active", "critical release: activated outside its window", {
      startTime: ctx.now,
      initialCount: t.present,
    });
  }
  if (g.state === "unstarted")
    return because(g, `waiting for its first window: opens ${iso(nextWindowOpen(w, ctx.now).getTime())}`);
  return g;
}

function stepImmediate(ctx: Ctx, g: GroupStatus): GroupStatus {
  const t = ctx.tallies.get(g.name) as Tally;
  switch (g.state) {
    case "unstarted":
    case "canary":
      return transition(ctx, g, "active", "schedule immediate: every agent updates now", {
        startTime: ctx.now,
        initialCount: t.present,
      });
    case "active":
      return stepActive(ctx, g, false);
    default:
      return g;
  }
}

/**
 * What a group's reporting agents run, from one tally (so it always agrees with the counts shown beside it):
 * `all 2 reporting agents run 1.1.0`, `10 of 11 reporting agents run 1.1.0; 1 failed on it (within the
 * threshold)`, `0 of 1 reporting agents run 1.1.0; 1 on another version`.
 */
function agentsSummary(t: Tally, target: string, threshold = false): string {
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

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
