import type { AgentGroupConfig, AutoupdateConfig } from "../resources/types.ts";

/**
 * The schedule group an agent belongs to: the group named `name`, or — for an unknown, empty or missing
 * name — the LAST group (DESIGN §3), so an unlabelled host updates only after every named group.
 */
export function resolveGroup(config: AutoupdateConfig, name: string | undefined): AgentGroupConfig {
  const groups = config.spec.agents.groups;
  const found = name === undefined || name === "" ? undefined : groups.find((g) => g.name === name);
  // A validated config always has at least one group.
  return found ?? (groups[groups.length - 1] as AgentGroupConfig);
}
