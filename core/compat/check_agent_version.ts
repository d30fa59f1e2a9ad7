import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import type { SemVer } from "../version/types.ts";
import { checkLines, withAdvice } from "./_shared.ts";
import { DEFAULT_COMPAT_POLICY } from "./default_compat_policy.ts";
import type { CompatPolicy, CompatResult } from "./types.ts";

/**
 * Whether `agent` may run against `server` (the Proxy/Auth version): {@link checkCompat}'s rules plus
 * seed 001's cap: an agent never exceeds the server version, not even by a patch or within one major.
 */
export function checkAgentVersion(
  server: SemVer,
  agent: SemVer,
  policy: CompatPolicy = DEFAULT_COMPAT_POLICY,
  releases?: readonly SemVer[],
): CompatResult {
  if (compareVersions(agent, server) > 0) {
    return {
      compatible: false,
      reason: `agent ${formatVersion(agent)} is newer than the server ${formatVersion(server)}: an agent never exceeds the server version`,
    };
  }
  return withAdvice(checkLines(server, agent, policy, releases, "agent"));
}
