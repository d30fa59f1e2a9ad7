// Private to reconcile: one group's step in each strategy. Not re-exported from mod.ts.
import type { AgentGroupConfig, AutoupdateConfig } from "../resources/types.ts";
import { sameVersion } from "../version/same_version.ts";
import { currentWindow } from "../window/current_window.ts";
import { nextWindowOpen } from "../window/next_window_open.ts";
import { agentsSummary, hasFailed, isUpToDate, type Tally } from "./_tally.ts";
import { HOUR_MS, iso, MINUTE_MS } from "./_util.ts";
import { chooseCanaries } from "./choose_canaries.ts";
import { groupWindow } from "./group_window.ts";
import type { AgentReport, Canary, GroupState, GroupStatus, RolloutEvent } from "./types.ts";

/** What every step reads (and `events`, which it appends to). */
export type Ctx = {
  now: number;
  config: AutoupdateConfig;
  target: string;
  random: () => number;
  critical: boolean;
  maxFailureRatio: number;
  tallies: Map<string, Tally>;
  events: RolloutEvent[];
  /**
   * When a rollout that replaced another began (`Rollout.startedAt`): a window open since before then is
   * not used. `-Infinity` for the first rollout (no earlier rollout used any window).
   */
  rolloutStart: number;
};

/**
 * Teleport's `rolloutChangedInWindow`: the window occurrence `span` opened before the rollout began, so it
 * belongs to the previous rollout (e.g. a group that updates 13:00-14:00 and a new target set at 13:30
 * would update twice in one window). The group waits for its next window. Teleport asks whether the
 * rollout's start fell in a window of the same day (within 24 hours); upkeep asks of the occurrence open
 * now, so a rollout made during yesterday's window does not also skip today's; and only of a rollout that
 * replaced another (the first one has no earlier rollout that could have used the window).
 */
export function rolloutChangedInWindow(span: { start: Date }, rolloutStart: number): boolean {
  return span.start.getTime() < rolloutStart;
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
  const canaries = pickCanaries(ctx, g, t, gc);
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
    const canaries = pickCanaries(ctx, g, t, gc);
    return { ...g, canaries, reason: `${plural(canaries.length, "canary", "canaries")} updating first` };
  }
  const failed = g.canaries.find((c) => hasFailed(t.member(c.updaterId), ctx.target));
  if (failed !== undefined) {
    const a = t.member(failed.updaterId) as AgentReport;
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
  const canaries = g.canaries.map((c) => ({ ...c, success: isUpToDate(t.member(c.updaterId), ctx.target) }));
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
  const t = ctx.tallies.get(g.name) as Tally;
  if (g.initialCount === 0) {
    // Teleport's isDoneHaltOnError: no agent reported when the group started: it is done once its window's
    // duration (an hour) has passed, whatever joined since.
    const since = g.startTime ?? g.lastTransition;
    const until = since + EMPTY_GROUP_WAIT_MS;
    if (ctx.now > until) {
      const now = present === 0 ? "" : `; now ${agentsSummary(t, ctx.target, rollbackOnFailures)}`;
      return transition(ctx, g, "done", `no agent reported when it started, its hour is over${now}`);
    }
    return because(
      g,
      `no agent reported when it started: done after ${iso(until)} (an hour after its start)`,
    );
  }
  if (isDone(g.initialCount, present, upToDate + failed)) {
    return transition(ctx, g, "done", agentsSummary(t, ctx.target, rollbackOnFailures));
  }
  if (present * 10 < g.initialCount * 9) {
    return because(
      g,
      `updating: ${present} of the ${g.initialCount} agents there at its start report (90% needed), ${upToDate} run ${ctx.target}`,
    );
  }
  return because(g, `updating: ${upToDate} of ${present} reporting agents run ${ctx.target}`);
}

/**
 * Teleport's halt-on-error done rule (`isDoneHaltOnError`, `doneThreshold` 0.9) for a group that had
 * agents when it started: at least 90% of them still report (a host that vanished mid-update holds the
 * group), and at least 90% of those reporting are `settled`. Teleport counts the agents up to date; upkeep
 * also counts those whose update failed (rolled back on the host, the version on its skip list: they will
 * not try again). Without force, failures above the threshold roll the group back first, so this differs
 * only for a forced group or under `schedule: immediate`. Integer arithmetic: exactly 90% counts.
 */
export function isDone(initial: number, present: number, settled: number): boolean {
  return present > 0 && present * 10 >= initial * 9 && settled * 10 >= present * 9;
}

/** How long a group with no agent at its start stays active (Teleport's `haltOnErrorWindowDuration`). */
export const EMPTY_GROUP_WAIT_MS = HOUR_MS;

export function stepHaltOnError(
  ctx: Ctx,
  groups: GroupStatus[],
  i: number,
  gc: AgentGroupConfig,
): GroupStatus {
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
      const span = currentWindow(w, ctx.now);
      const changed = span !== undefined && rolloutChangedInWindow(span, ctx.rolloutStart);
      if (span !== undefined && !changed) return begin(ctx, g, gc, "its window is open");
      if (ctx.critical) return begin(ctx, g, gc, "critical release: started outside its window");
      const next = iso(nextWindowOpen(w, ctx.now).getTime());
      if (changed) return because(g, windowTaken(span, ctx.rolloutStart, next));
      return because(g, `waiting for its window: next opens ${next}`);
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

export function stepTimeBased(ctx: Ctx, g: GroupStatus, gc: AgentGroupConfig): GroupStatus {
  if (g.state === "rolledback") return g;
  const w = groupWindow(ctx.config, gc);
  const span = currentWindow(w, ctx.now);
  const duration = ctx.config.spec.agents.maintenanceWindowMinutes * MINUTE_MS;
  const t = ctx.tallies.get(g.name) as Tally;
  const active = g.state === "active" || g.state === "canary";
  if (span !== undefined && !active && rolloutChangedInWindow(span, ctx.rolloutStart) && !ctx.critical) {
    return because(g, windowTaken(span, ctx.rolloutStart, iso(nextWindowOpen(w, ctx.now).getTime())));
  }
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

export function stepImmediate(ctx: Ctx, g: GroupStatus): GroupStatus {
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

/** The reason of a group whose open window began before the rollout. */
function windowTaken(span: { start: Date }, rolloutStart: number, next: string): string {
  return `the rollout began at ${iso(rolloutStart)}, after its window opened at ${iso(span.start.getTime())}: waiting for its next window (${next})`;
}

/** Chooses a group's canaries among its reporting agents, and records which. */
function pickCanaries(ctx: Ctx, g: GroupStatus, t: Tally, gc: AgentGroupConfig): Canary[] {
  const canaries = chooseCanaries(t.members(), gc.canaryCount, ctx.random);
  ctx.events.push({
    at: ctx.now,
    kind: "canaries",
    group: g.name,
    message: `group ${g.name}: canaries ${canaries.map((c) => `${c.hostname} (${c.updaterId})`).join(", ")}`,
  });
  return canaries;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
