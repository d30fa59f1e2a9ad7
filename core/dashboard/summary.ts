/**
 * The rollout at the top of the page: start -> target, mode, strategy, schedule, the server version (or
 * "not set" and what that means), every cap or raise it makes, client tools, the published manifest (serial,
 * floor, expiry, a warning in its last week) and the critical releases. And the events, newest first. Pure.
 */
import { manifestExpiry } from "../trust/manifest_expiry.ts";
import type { ReleasesView, RolloutView } from "../wire/views.ts";
import { relative } from "./format.ts";

export interface RolloutSummary {
  /** False while no autoupdate_version names agents' versions. */
  exists: boolean;
  start: string | null;
  target: string | null;
  /** The target after the server's cap or raise, when it differs. */
  effectiveTarget: string | null;
  strategy: string;
  schedule: string | null;
  mode: string | null;
  startedAt: string | null;
  startedAgo: string | null;
  serverVersion: string | null;
  /** What server_version does (or not setting it means), in one sentence. */
  serverNote: string;
  /** Each cap or raise, in one line. */
  adjusted: string[];
  tools: string | null;
  manifest: {
    serial: number;
    expires: string;
    expiresIn: string;
    expired: boolean;
    floor: string | null;
    versions: string[];
    warning: string | null;
  } | null;
  /** Why no manifest matters, when none is published. */
  noManifest: string | null;
  critical: string[];
  targetCritical: boolean;
}

export const NO_ROLLOUT =
  "no rollout: set autoupdate_version spec.agents (upkeep admin apply -f version.yaml); until then agents are told no version";
export const NO_MANIFEST =
  "none published: hosts install nothing (upkeep release manifest, then upkeep admin publish)";

export function rolloutSummary(v: RolloutView, r: ReleasesView, now: number): RolloutSummary {
  const m = r.manifest;
  const target = v.target_version;
  const effective = v.effective_target_version;
  const e = m ? manifestExpiry(m.expires, new Date(now)) : undefined;
  return {
    exists: v.target_version !== null || v.groups.length > 0,
    start: v.start_version,
    target,
    effectiveTarget: effective !== null && effective !== target ? effective : null,
    strategy: v.strategy,
    schedule: v.schedule,
    mode: v.mode,
    startedAt: v.started_at,
    startedAgo: v.started_at ? relative(v.started_at, now) : null,
    serverVersion: v.server_version,
    serverNote: v.server_cap,
    adjusted: v.adjusted.map((a) => `${a.kind}: ${a.field} ${a.from} -> ${a.to}: ${a.why}`),
    tools: v.tools
      ? `${v.tools.version || "no version"}${v.tools.auto_update ? ", auto-update on" : ", auto-update off"}: ${v.tools.reason}`
      : null,
    manifest:
      m && e
        ? {
            serial: m.serial,
            expires: m.expires,
            expiresIn: e.relative,
            expired: e.expired,
            floor: m.floor,
            versions: m.versions,
            warning: m.warning,
          }
        : null,
    noManifest: m ? null : NO_MANIFEST,
    critical: r.critical,
    targetCritical: target !== null && r.critical.includes(target),
  };
}

export interface EventRow {
  time: string;
  ago: string;
  group: string;
  /** `canary -> active`, or "" for an event that is not a transition. */
  change: string;
  text: string;
}

/** The rollout's events, newest first. */
export function eventRows(v: RolloutView, now: number): EventRow[] {
  return [...v.events].reverse().map((e) => ({
    time: e.time,
    ago: relative(e.time, now),
    group: e.group,
    change: e.from || e.to ? `${e.from || "-"} -> ${e.to || "-"}` : "",
    text: e.reason,
  }));
}
