import type { AgentMode, AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";

const RANK: Record<AgentMode, number> = { enabled: 0, suspended: 1, disabled: 2 };

/**
 * The agent mode in force: the more restrictive of `autoupdate_config`'s and `autoupdate_version`'s
 * (`disabled` > `suspended` > `enabled`), as in Teleport. Both default to `enabled`; a missing version
 * resource (or one without `spec.agents`) does not restrict.
 */
export function effectiveAgentMode(
  config: AutoupdateConfig,
  version: AutoupdateVersion | undefined,
): AgentMode {
  const a = config.spec.agents.mode;
  const b = version?.spec.agents?.mode ?? "enabled";
  return RANK[a] >= RANK[b] ? a : b;
}
