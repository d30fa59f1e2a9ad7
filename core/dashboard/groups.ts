/**
 * One row per rollout group, in order: its state in words, window and next opening, the wait_hours
 * countdown, canaries (with their own reports), progress, the version histogram of its hosts, and whether
 * it holds later groups back. Pure: from the rollout view, the config and the fleet's stats.
 */
import type { AgentGroupConfig, AutoupdateConfig } from "../resources/types.ts";
import { groupWindow } from "../rollout/group_window.ts";
import type { GroupState } from "../rollout/types.ts";
import { compareVersions } from "../version/compare_versions.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import { currentWindow } from "../window/current_window.ts";
import { nextWindowOpen } from "../window/next_window_open.ts";
import type { GroupView, RolloutView } from "../wire/views.ts";
import type { FleetStats } from "./fleet.ts";
import { plural, relative, span } from "./format.ts";

export const STATE_WORDS: Record<GroupState, string> = {
  unstarted: "not started",
  canary: "canaries updating",
  active: "updating",
  done: "done",
  rolledback: "rolled back",
};

export interface CanaryRow {
  updaterId: string;
  hostname: string;
  /** From the canary's last report; null when it has not reported. */
  version: string | null;
  healthy: boolean;
  /** Counted as a success by the rollout (runs the target, healthy). */
  success: boolean;
}

export interface GroupRow {
  name: string;
  state: GroupState;
  stateWords: string;
  reason: string;
  forced: boolean;
  effectiveVersion: string | null;
  answer: string;
  startedAt: string | null;
  lastTransition: string;
  window: { text: string; open: boolean; nextOpen: string | null; nextOpenIn: string | null };
  /** halt-on-error `wait_hours` after the previous group's start; null when 0 or not applicable. */
  wait: { hours: number; after: string; until: string | null; remaining: string | null } | null;
  canaryCount: number;
  canaries: CanaryRow[];
  progress: {
    present: number;
    upToDate: number;
    failed: number;
    other: number;
    initial: number;
    percent: number;
  };
  histogram: { version: string; count: number; target: boolean }[];
  /** How it holds later groups back, in words, or null. */
  blocks: string | null;
}

const DAY_ORDER = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export function groupRows(
  view: RolloutView,
  config: AutoupdateConfig,
  stats: FleetStats,
  now: number,
): GroupRow[] {
  return view.groups.map((g, i) => {
    const gc = config.spec.agents.groups.find((c) => c.name === g.name);
    const p = { present: g.present_count, upToDate: g.up_to_date_count, failed: g.failed_count };
    return {
      name: g.name,
      state: g.state,
      stateWords: STATE_WORDS[g.state] ?? g.state,
      reason: g.reason,
      forced: g.forced,
      effectiveVersion: g.effective_version,
      answer: g.answer,
      startedAt: g.start_time,
      lastTransition: g.last_transition,
      window: windowOf(view, config, gc, now),
      wait: waitOf(view, gc, i, now),
      canaryCount: gc?.canaryCount ?? 0,
      canaries: g.canaries.map((c) => {
        const a = stats.canaries.get(c.updater_id);
        return {
          updaterId: c.updater_id,
          hostname: c.hostname,
          version: a?.version ?? null,
          healthy: a?.state === "ok",
          success: c.success,
        };
      }),
      progress: {
        ...p,
        other: Math.max(0, p.present - p.upToDate - p.failed),
        initial: g.initial_count,
        percent: p.present === 0 ? 0 : Math.round((100 * p.upToDate) / p.present),
      },
      histogram: histogram(stats.versions.get(g.name), view.effective_target_version),
      blocks: blocksOf(view, g, i),
    };
  });
}

function daysText(days: readonly string[]): string {
  if (days.includes("*")) return "every day";
  return [...days].sort((a, b) => DAY_ORDER.indexOf(a) - DAY_ORDER.indexOf(b)).join(", ");
}

function windowOf(
  view: RolloutView,
  config: AutoupdateConfig,
  gc: AgentGroupConfig | undefined,
  now: number,
) {
  if (view.schedule === "immediate")
    return { text: "schedule immediate: windows do not apply", open: true, nextOpen: null, nextOpenIn: null };
  if (!gc) return { text: "not in autoupdate_config", open: false, nextOpen: null, nextOpenIn: null };
  const w = groupWindow(config, gc);
  const hh = String(gc.startHour).padStart(2, "0");
  const timeBased = config.spec.agents.strategy === "time-based";
  const text = `${daysText(gc.days)} at ${hh}:00 UTC${timeBased ? ` for ${w.durationMinutes} min` : ""}`;
  const next = nextWindowOpen(w, now).toISOString();
  return { text, open: currentWindow(w, now) !== undefined, nextOpen: next, nextOpenIn: relative(next, now) };
}

function waitOf(
  view: RolloutView,
  gc: AgentGroupConfig | undefined,
  i: number,
  now: number,
): GroupRow["wait"] {
  const prev = view.groups[i - 1];
  if (!gc || gc.waitHours === 0 || !prev || view.strategy !== "halt-on-error") return null;
  const started = prev.start_time === null ? Number.NaN : Date.parse(prev.start_time);
  if (!Number.isFinite(started))
    return { hours: gc.waitHours, after: prev.name, until: null, remaining: null };
  const until = started + gc.waitHours * 3_600_000;
  return {
    hours: gc.waitHours,
    after: prev.name,
    until: new Date(until).toISOString(),
    remaining: until > now ? span(until - now) : null,
  };
}

function blocksOf(view: RolloutView, g: GroupView, i: number): string | null {
  if (view.strategy !== "halt-on-error" || view.schedule === "immediate") return null;
  const later = view.groups.slice(i + 1).map((x) => x.name);
  if (later.length === 0) return null;
  const names = later.join(", ");
  if (g.state === "rolledback") return `halts later ${later.length === 1 ? "group" : "groups"}: ${names}`;
  if (g.state === "done") return null;
  return `${plural(later.length, "later group")} ${later.length === 1 ? "waits" : "wait"} for it: ${names}`;
}

function histogram(counts: Map<string, number> | undefined, target: string | null) {
  const rows = [...(counts ?? new Map<string, number>())].map(([version, count]) => ({
    version,
    count,
    target: version === target,
    v: tryParseVersion(version),
  }));
  rows.sort((a, b) => (a.v && b.v ? compareVersions(b.v, a.v) : a.version < b.version ? 1 : -1));
  return rows.map(({ v: _v, ...r }) => r);
}
