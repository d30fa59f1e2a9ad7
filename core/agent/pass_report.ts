/**
 * Which report a pass sends the server (`POST /v1/agents/report`), from its result and update.yaml's status
 * after it. The server counts `failed_version` against the rollout, so only a verdict on the release names
 * one; an operator's skip (`agent rollback`) is said, never counted. Pure.
 */
import { sameVersion } from "../version/same_version.ts";
import { isSkippedByOperator } from "./decide.ts";
import type { PassResult } from "./pass_result.ts";
import type { AgentStatus } from "./types.ts";

/** A report body as the agent builds it (core/sys/agent/server_api.ts sends it). */
export interface PassReport {
  state: "ok" | "updating" | "failed" | "rolledback";
  /** The version running on the host. */
  version: string;
  error?: string;
  failedVersion?: string;
  /** The upkeep version the updater runs; one whose self-update failed here (added by the reporter). */
  updaterVersion?: string;
  updaterFailedVersion?: string;
}

export interface PassEnd {
  result: PassResult;
  /** update.yaml's status after the pass. */
  status: Pick<AgentStatus, "active" | "skip"> & Partial<Pick<AgentStatus, "skipByOperator">>;
  /** The error the server is told about a failed or rolled-back version. */
  error?: string;
  /**
   * Set when the pass asked the server and took no update (the only unchanged pass that reports): the
   * daemon's health then (undefined: cannot tell).
   */
  checked?: { healthy: boolean | undefined };
}

/** The report for a pass's end; undefined: nothing to report (an error, a wait, a switch not yet judged). */
export function passReport(end: PassEnd): PassReport | undefined {
  const { result: r, status } = end;
  const error = end.error ? { error: end.error } : {};
  switch (r.outcome) {
    case "updated":
      return { state: "ok", version: r.to };
    case "rolledback":
      return { state: "rolledback", version: status.active, failedVersion: r.to, ...error };
    case "failed":
      // Before the switch the old version still runs (nothing: the new one is named); with nothing to roll
      // back to, the unhealthy new one does.
      return { state: "failed", version: status.active || r.to, failedVersion: r.to, ...error };
    case "unchanged":
      return end.checked ? checkedReport(r, status, end.checked.healthy) : undefined;
    default:
      return undefined;
  }
}

function checkedReport(r: PassResult, status: PassEnd["status"], healthy: boolean | undefined): PassReport {
  const state = healthy === false ? "failed" : "ok";
  if (isSkippedByOperator(status, r.to))
    return {
      state,
      version: r.from,
      error: `${r.to} is skipped on this host by the operator (upkeep agent rollback)`,
    };
  if (status.skip.some((v) => sameVersion(v, r.to)))
    return {
      state: "rolledback",
      version: r.from,
      failedVersion: r.to,
      error: `${r.to} is skipped on this host`,
    };
  return { state, version: r.from };
}
