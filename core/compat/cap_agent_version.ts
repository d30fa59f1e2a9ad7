import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import type { SemVer } from "../version/types.ts";
import { checkLines } from "./_shared.ts";
import { DEFAULT_COMPAT_POLICY } from "./default_compat_policy.ts";
import type { AgentVersionDecision, CompatPolicy } from "./types.ts";

/**
 * The version to tell an agent, given the rollout's `target` and the `server` (Proxy/Auth) version
 * (seed 001):
 *
 * - a target newer than the server is capped at the server version (an agent never exceeds it);
 * - a target the server does not work with (more than `majorSkew` majors below it, or on the legacy line
 *   too many minors below) is raised to the server version, the version agents should align with;
 * - otherwise the target is served unchanged.
 */
export function capAgentVersion(
  target: SemVer,
  server: SemVer,
  policy: CompatPolicy = DEFAULT_COMPAT_POLICY,
  releases?: readonly SemVer[],
): AgentVersionDecision {
  const tv = formatVersion(target);
  const sv = formatVersion(server);
  if (compareVersions(target, server) > 0) {
    return {
      version: server,
      capped: true,
      direction: "capped",
      reason: `target ${tv} is newer than the server ${sv}: capped at the server version (an agent never exceeds the server)`,
    };
  }
  const check = checkLines(server, target, policy, releases, "agent");
  if (!check.compatible) {
    return {
      version: server,
      capped: true,
      direction: "raised",
      reason: `target ${tv} is too old: ${check.reason}; raised to the server version ${sv}`,
    };
  }
  return {
    version: target,
    capped: false,
    direction: "none",
    reason: `target ${tv} is within the server cap: ${check.reason}`,
  };
}
