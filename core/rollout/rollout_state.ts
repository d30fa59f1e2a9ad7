import type { GroupState, GroupStatus } from "./types.ts";

/** The state of a whole rollout, as Teleport's `AutoUpdateAgentRolloutState` (lower case). */
export type RolloutState = "unstarted" | "active" | "done" | "rolledback";

/**
 * Teleport's `computeRolloutState`: `rolledback` when any group is rolled back, `done` when every group is,
 * `unstarted` when none has started, else `active`. `undefined` for a rollout with no group.
 */
export function rolloutState(groups: readonly Pick<GroupStatus, "state">[]): RolloutState | undefined {
  if (groups.length === 0) return undefined;
  const count = (s: GroupState) => groups.filter((g) => g.state === s).length;
  if (count("rolledback") > 0) return "rolledback";
  if (count("done") === groups.length) return "done";
  if (count("unstarted") === groups.length) return "unstarted";
  return "active";
}
