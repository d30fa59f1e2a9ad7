/**
 * The body of `POST /v1/agents/report`: an agent's word about itself. Built by the agent (`reportBody`),
 * read by the server (`parseReport`), which counts it in the rollout. Pure.
 */
import { BadResourceError } from "../resources/bad_resource_error.ts";
import { isRecord, type Problem, unknownKeys } from "../validate/mod.ts";
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";

export const REPORT_STATES = ["ok", "updating", "failed", "rolledback"] as const;
/** ok: healthy on `version`; failed / rolledback: the update to `failed_version` failed. */
export type ReportState = (typeof REPORT_STATES)[number];

const FIELDS = [
  "updater_id",
  "hostname",
  "group",
  "version",
  "state",
  "error",
  "failed_version",
  "updater_version",
  "updater_failed_version",
] as const;
/** Longest values kept; a longer error is cut, a longer id or name refused. */
const MAX = {
  updater_id: 128,
  hostname: 255,
  group: 64,
  version: 64,
  failed_version: 64,
  error: 2000,
  updater_version: 64,
  updater_failed_version: 64,
};

export interface ReportBody {
  updater_id: string;
  hostname: string;
  /** Absent or `""`: no group (the server counts the agent in its last group). */
  group?: string;
  version: string;
  state: ReportState;
  error?: string;
  /** The version whose update failed (state failed or rolledback), when the agent names it. */
  failed_version?: string;
  /** The upkeep version the agent's updater runs (DESIGN §9); absent from older agents. */
  updater_version?: string;
  /** An upkeep version the updater's self-update to failed (rolled back, skipped), when there is one. */
  updater_failed_version?: string;
}

/** A report as the server keeps it: every field checked, versions canonical, `group` `""` when none. */
export type ReceivedReport = ReportBody & { group: string };

/** The report an agent sends: empty fields left out, the host name and error cut to what the server keeps. */
export function reportBody(r: {
  updaterId: string;
  hostname: string;
  group: string;
  version: string;
  state: ReportState;
  error?: string | undefined;
  failedVersion?: string | undefined;
  updaterVersion?: string | undefined;
  updaterFailedVersion?: string | undefined;
}): ReportBody {
  return {
    updater_id: r.updaterId,
    hostname: r.hostname.slice(0, MAX.hostname) || "unknown",
    ...(r.group ? { group: r.group } : {}),
    version: r.version,
    state: r.state,
    ...(r.error ? { error: r.error.slice(0, MAX.error) } : {}),
    ...(r.failedVersion ? { failed_version: r.failedVersion } : {}),
    ...(r.updaterVersion ? { updater_version: r.updaterVersion } : {}),
    ...(r.updaterFailedVersion ? { updater_failed_version: r.updaterFailedVersion } : {}),
  };
}

/** Validates a report; every problem names its field (`BadResourceError` of kind `report`). */
export function parseReport(doc: unknown): ReceivedReport {
  if (!isRecord(doc)) throw new BadResourceError("report", [{ path: "", message: "must be a JSON object" }]);
  const d = doc;
  const problems: Problem[] = [];
  const str = (k: keyof typeof MAX, required = true): string => {
    const v = d[k];
    if (v === undefined && !required) return "";
    if (typeof v !== "string" || v.length === 0 || v.length > MAX[k]) {
      problems.push({ path: k, message: `must be a non-empty string of at most ${MAX[k]} characters` });
      return "";
    }
    return v;
  };
  const semver = (
    k: "version" | "failed_version" | "updater_version" | "updater_failed_version",
    required: boolean,
  ): string => {
    const text = str(k, required);
    const v = text ? tryParseVersion(text) : undefined;
    if (text && !v) problems.push({ path: k, message: "must be a semver version" });
    return v ? formatVersion(v) : "";
  };
  for (const k of unknownKeys(d, FIELDS)) problems.push({ path: k, message: "unknown field" });
  const updater_id = str("updater_id");
  const hostname = str("hostname");
  const group = str("group", false);
  const version = semver("version", true);
  const failed = semver("failed_version", false);
  const updater = semver("updater_version", false);
  const updaterFailed = semver("updater_failed_version", false);
  const state = d.state;
  if (typeof state !== "string" || !(REPORT_STATES as readonly string[]).includes(state)) {
    problems.push({ path: "state", message: `must be one of ${REPORT_STATES.join(", ")}` });
  }
  if (d.error !== undefined && typeof d.error !== "string")
    problems.push({ path: "error", message: "must be a string" });
  const error = typeof d.error === "string" ? d.error.slice(0, MAX.error) : undefined;
  if (problems.length > 0) throw new BadResourceError("report", problems);
  return {
    updater_id,
    hostname,
    group,
    version,
    state: state as ReportState,
    ...(error ? { error } : {}),
    ...(failed ? { failed_version: failed } : {}),
    ...(updater ? { updater_version: updater } : {}),
    ...(updaterFailed ? { updater_failed_version: updaterFailed } : {}),
  };
}
