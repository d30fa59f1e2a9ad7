import { tryParseDuration } from "../duration.ts";
import { fieldPath, type ProblemList, report } from "../validate/mod.ts";
import { tryParseWeekday } from "../window/parse_weekday.ts";
import type { DaySpec } from "../window/types.ts";
import { envelope, integer, mapping, oneOf, optString, show } from "./_check.ts";
import {
  AGENT_MODES,
  type AgentGroupConfig,
  type AgentsConfig,
  type AutoupdateConfig,
  type CheckResult,
  DEFAULT_GROUP_DAYS,
  DEFAULT_GROUP_NAME,
  DEFAULT_GROUP_START_HOUR,
  DEFAULT_MAINTENANCE_WINDOW_MINUTES,
  MAX_CANARY_COUNT,
  MAX_WAIT_HOURS,
  STRATEGIES,
  TOOLS_MODES,
  type ToolsMode,
} from "./types.ts";

const GROUP_NAME = /^[a-z0-9_-]{1,64}$/;

/**
 * Validates an `autoupdate_config` given as YAML/JSON text or an already-parsed object, and returns it
 * with every default filled in, or EVERY problem found, each with its full field path. Unknown fields are
 * problems too (a typo must not silently do nothing).
 */
export function checkAutoupdateConfig(input: unknown): CheckResult<AutoupdateConfig> {
  const ctx: ProblemList = { problems: [] };
  const env = envelope(ctx, input, "autoupdate_config");
  if (env === undefined) return { ok: false, problems: ctx.problems };

  // Teleport's default: client tools are told to update only when `spec.tools.mode` says `enabled`.
  let toolsMode: ToolsMode = "disabled";
  let agents: AgentsConfig = {
    mode: "enabled",
    strategy: "halt-on-error",
    maintenanceWindowMinutes: DEFAULT_MAINTENANCE_WINDOW_MINUTES,
    groups: [defaultGroup()],
  };
  if (env.spec !== undefined) {
    const spec = mapping(ctx, env.spec, "spec", ["tools", "agents"]);
    if (spec !== undefined) {
      // `null` is a section removed on purpose (see droppedSections): its defaults.
      if (spec.tools !== undefined && spec.tools !== null) {
        const tools = mapping(ctx, spec.tools, "spec.tools", ["mode"]);
        if (tools !== undefined) toolsMode = oneOf(ctx, tools, "mode", "spec.tools", TOOLS_MODES, "disabled");
      }
      if (spec.agents !== undefined && spec.agents !== null) agents = checkAgents(ctx, spec.agents) ?? agents;
    }
  }
  if (ctx.problems.length > 0) return { ok: false, problems: ctx.problems };
  return {
    ok: true,
    value: {
      kind: "autoupdate_config",
      metadata: env.metadata,
      spec: { tools: { mode: toolsMode }, agents },
    },
  };
}

function defaultGroup(): AgentGroupConfig {
  return {
    name: DEFAULT_GROUP_NAME,
    days: [...DEFAULT_GROUP_DAYS],
    startHour: DEFAULT_GROUP_START_HOUR,
    waitHours: 0,
    canaryCount: 0,
  };
}

function checkAgents(ctx: ProblemList, v: unknown): AgentsConfig | undefined {
  const path = "spec.agents";
  const o = mapping(ctx, v, path, [
    "mode",
    "strategy",
    "maintenance_window_duration",
    "maintenance_window_minutes",
    "schedules",
  ]);
  if (o === undefined) return undefined;
  const mode = oneOf(ctx, o, "mode", path, AGENT_MODES, "enabled");
  const strategy = oneOf(ctx, o, "strategy", path, STRATEGIES, "halt-on-error");
  const maintenanceWindowMinutes = checkWindowLength(ctx, o, path, strategy);
  let groups = [defaultGroup()];
  if (o.schedules !== undefined && o.schedules !== null) {
    const schedules = mapping(ctx, o.schedules, fieldPath(path, "schedules"), ["regular"]);
    if (schedules?.regular !== undefined) {
      groups = checkGroups(ctx, schedules.regular, "spec.agents.schedules.regular", strategy);
    }
  }
  return { mode, strategy, maintenanceWindowMinutes, groups };
}

/**
 * The time-based window length: Teleport's `maintenance_window_duration` (a duration: `1h`, `90m`, or
 * protobuf JSON's `5400s`), or upkeep's alias `maintenance_window_minutes` (an integer), not both. Whole
 * minutes, 10 minutes to 24 hours (Teleport's minimum). Under halt-on-error a group's window is its start
 * hour: the duration may only be zero there (as Teleport requires), the minutes not given at all.
 */
function checkWindowLength(
  ctx: ProblemList,
  o: Record<string, unknown>,
  path: string,
  strategy: string,
): number {
  const durationPath = fieldPath(path, "maintenance_window_duration");
  const minutesPath = fieldPath(path, "maintenance_window_minutes");
  const bounds = `${MIN_WINDOW_MINUTES} minutes to 24 hours`;
  if (o.maintenance_window_duration !== undefined && o.maintenance_window_minutes !== undefined) {
    report(
      ctx,
      minutesPath,
      "give the window once: maintenance_window_duration (Teleport's name) or maintenance_window_minutes, not both",
    );
    return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
  }
  if (o.maintenance_window_duration !== undefined) {
    const raw = o.maintenance_window_duration;
    const ms = typeof raw === "string" ? (raw.trim() === "0" ? 0 : tryParseDuration(raw)) : undefined;
    if (ms === undefined) {
      report(ctx, durationPath, `must be a duration such as 1h, 90m or 3600s (got ${show(raw)})`);
      return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
    }
    if (strategy !== "time-based") {
      if (ms !== 0)
        report(
          ctx,
          durationPath,
          `must be zero for strategy ${strategy} (a group's window is its start hour); only time-based has a window length (got ${show(raw)})`,
        );
      return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
    }
    if (ms % 60_000 !== 0 || ms < MIN_WINDOW_MINUTES * 60_000 || ms > 1440 * 60_000) {
      report(ctx, durationPath, `must be whole minutes, ${bounds} (got ${show(raw)})`);
      return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
    }
    return ms / 60_000;
  }
  if (o.maintenance_window_minutes !== undefined) {
    if (strategy !== "time-based") {
      report(
        ctx,
        minutesPath,
        `only for strategy time-based (strategy is ${strategy}: a group's window is its start hour)`,
      );
      return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
    }
    return integer(ctx, o, "maintenance_window_minutes", path, MIN_WINDOW_MINUTES, 1440) ?? 0;
  }
  return DEFAULT_MAINTENANCE_WINDOW_MINUTES;
}

/** Teleport refuses a time-based window shorter than 10 minutes. */
const MIN_WINDOW_MINUTES = 10;

function checkGroups(ctx: ProblemList, v: unknown, path: string, strategy: string): AgentGroupConfig[] {
  if (!Array.isArray(v)) {
    report(ctx, path, `must be a list of groups (got ${show(v)})`);
    return [];
  }
  if (v.length === 0) {
    report(ctx, path, "must list at least one group (omit schedules for the default group)");
    return [];
  }
  const seen = new Map<string, number>();
  const groups: AgentGroupConfig[] = [];
  for (const [i, item] of v.entries()) {
    const p = fieldPath(path, i);
    const g = mapping(ctx, item, p, ["name", "days", "start_hour", "wait_hours", "canary_count"]);
    if (g === undefined) continue;
    const name = optString(ctx, g, "name", p);
    if (name === undefined) {
      if (g.name === undefined) report(ctx, fieldPath(p, "name"), "required");
    } else if (!GROUP_NAME.test(name)) {
      report(ctx, fieldPath(p, "name"), `must be 1..64 of a-z, 0-9, "-", "_" (got ${show(name)})`);
    } else if (seen.has(name)) {
      report(
        ctx,
        fieldPath(p, "name"),
        `duplicate group name ${show(name)} (also ${fieldPath(path, seen.get(name) as number)})`,
      );
    } else seen.set(name, i);

    const days = checkDays(ctx, g.days, fieldPath(p, "days"));
    if (g.start_hour === undefined) report(ctx, fieldPath(p, "start_hour"), "required (UTC hour 0..23)");
    const startHour = integer(ctx, g, "start_hour", p, 0, 23) ?? 0;

    let waitHours = 0;
    let canaryCount = 0;
    if (strategy === "time-based") {
      // Explicit zeros are harmless and accepted; anything else would silently do nothing.
      for (const key of ["wait_hours", "canary_count"]) {
        if (g[key] !== undefined && g[key] !== 0) {
          report(
            ctx,
            fieldPath(p, key),
            `only for strategy halt-on-error (strategy is time-based; got ${show(g[key])})`,
          );
        }
      }
    } else {
      waitHours = integer(ctx, g, "wait_hours", p, 0, MAX_WAIT_HOURS) ?? 0;
      if (i === 0 && waitHours > 0) {
        report(
          ctx,
          fieldPath(p, "wait_hours"),
          `must be 0 for the first group: there is no earlier group to wait for`,
        );
      }
      canaryCount = integer(ctx, g, "canary_count", p, 0, MAX_CANARY_COUNT) ?? 0;
    }
    groups.push({ name: name ?? "", days, startHour, waitHours, canaryCount });
  }
  return groups;
}

function checkDays(ctx: ProblemList, v: unknown, path: string): DaySpec[] {
  if (v === undefined) return [...DEFAULT_GROUP_DAYS];
  if (!Array.isArray(v) || v.length === 0) {
    report(ctx, path, `must be a non-empty list of Mon..Sun or "*" (got ${show(v)})`);
    return [];
  }
  const out: DaySpec[] = [];
  for (const [i, raw] of v.entries()) {
    const d = tryParseWeekday(raw);
    if (d === undefined) report(ctx, fieldPath(path, i), `must be one of Mon..Sun or "*" (got ${show(raw)})`);
    else if (out.includes(d)) report(ctx, fieldPath(path, i), `duplicate day ${show(raw)}`);
    else out.push(d);
  }
  if (out.includes("*") && v.length > 1) report(ctx, path, `"*" means every day and must stand alone`);
  return out;
}
