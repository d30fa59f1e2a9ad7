// Shared builders for the rollout tests (not part of the API; not re-exported from mod.ts).
import { parseAutoupdateConfig } from "../resources/parse_autoupdate_config.ts";
import { parseAutoupdateVersion } from "../resources/parse_autoupdate_version.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import type { AgentReport, GroupState, GroupStatus } from "./types.ts";

/** 2024-01-01T00:00:00Z, a Monday. */
export const MON = Date.UTC(2024, 0, 1);
export const HOUR = 3_600_000;
export const MINUTE = 60_000;
export const START = "16.4.0";
export const TARGET = "17.0.1";
export const SERVER = "17.0.1";

export function config(agents: Record<string, unknown>, tools?: Record<string, unknown>): AutoupdateConfig {
  return parseAutoupdateConfig({ kind: "autoupdate_config", spec: tools ? { agents, tools } : { agents } });
}

export function version(
  agents: Record<string, unknown> = {},
  tools?: Record<string, unknown>,
): AutoupdateVersion {
  return parseAutoupdateVersion({
    kind: "autoupdate_version",
    spec: {
      agents: { start_version: START, target_version: TARGET, ...agents },
      ...(tools ? { tools } : {}),
    },
  });
}

export function status(name: string, state: GroupState, extra: Partial<GroupStatus> = {}): GroupStatus {
  return {
    name,
    state,
    lastTransition: MON,
    reason: "",
    canaries: [],
    initialCount: 0,
    presentCount: 0,
    upToDateCount: 0,
    failedCount: 0,
    ...extra,
  };
}

export function agent(
  updaterId: string,
  group: string | undefined,
  v: string,
  healthy = true,
  failedVersion?: string,
): AgentReport {
  return {
    updaterId,
    hostname: `host-${updaterId}`,
    group,
    version: v,
    healthy,
    ...(failedVersion ? { failedVersion } : {}),
  };
}

/** A random source that always returns 0 (picks the first candidates in updaterId order). */
export const first = () => 0;
