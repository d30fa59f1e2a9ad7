import type { AutoupdateConfig } from "../resources/types.ts";
import { type ActionInput, apply, refuse } from "./_action.ts";
import type { ActionResult } from "./types.ts";

export type ForceGroupInput = ActionInput & { config: AutoupdateConfig };

/**
 * Operator action `force`: make a group `active` now, skipping its window, the order of groups,
 * `wait_hours` and the canary phase, and keep it active through failures (no automatic rollback: the
 * operator decided; they can still roll back). Allowed from `unstarted`, `canary` and `rolledback` (and, time-based,
 * from `done`: a new activation for `maintenance_window_minutes`).
 *
 * @throws {UpkeepError} E_NOT_FOUND for an unknown group, E_CONFLICT when it is already active (or done,
 * under halt-on-error).
 */
export function forceGroup(input: ForceGroupInput): ActionResult {
  const timeBased = input.rollout.strategy === "time-based";
  return apply(input, (g, _i, now) => {
    if (g.state === "active" || (g.state === "done" && !timeBased))
      refuse("force", g, `it is already ${g.state}`);
    const extra = {
      forced: true,
      startTime: now,
      initialCount: g.presentCount,
      initialPending: true,
      ...(g.state === "canary" ? {} : { canaries: [] }),
    };
    return {
      to: "active",
      reason: "forced by an operator (window, order, wait and canaries skipped)",
      extra,
    };
  });
}
