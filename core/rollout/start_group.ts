import type { AutoupdateConfig } from "../resources/types.ts";
import { type ActionInput, apply, refuse } from "./_action.ts";
import { groupConfig, HOUR_MS, iso } from "./_util.ts";
import type { ActionResult } from "./types.ts";

export type StartGroupInput = ActionInput & { config: AutoupdateConfig };

/**
 * Operator action `start`: start a group now, without waiting for its window.
 *
 * - halt-on-error: from `unstarted` or `rolledback` (a retry). The order and `wait_hours` still hold:
 *   refused (E_CONFLICT) while an earlier group is not `done` or before `wait_hours` have passed since the
 *   previous group started — `force` overrides both. With `canary_count > 0` the group enters `canary`
 *   and the next `reconcile` chooses the canaries; otherwise `active`.
 * - time-based: from `unstarted`, `done` or `rolledback`: `active` for `maintenance_window_minutes` from now.
 *
 * @throws {UpkeepError} E_NOT_FOUND for an unknown group, E_CONFLICT when not allowed (the message says why).
 */
export function startGroup(input: StartGroupInput): ActionResult {
  const { config, rollout } = input;
  return apply(input, (g, i, now) => {
    const gc = groupConfig(config, g.name);
    const extra = { startTime: now, initialCount: g.presentCount, initialPending: true, canaries: [] };
    if (rollout.strategy === "time-based") {
      if (g.state === "active" || g.state === "canary") refuse("start", g, `it is already ${g.state}`);
      const minutes = config.spec.agents.maintenanceWindowMinutes;
      return { to: "active", reason: `started by an operator: active for ${minutes} minutes`, extra };
    }
    if (g.state !== "unstarted" && g.state !== "rolledback") {
      refuse(
        "start",
        g,
        `it is already ${g.state}`,
        g.state === "canary" ? "use force to skip the canaries" : undefined,
      );
    }
    const blocker = rollout.groups.slice(0, i).find((e) => e.state !== "done");
    if (blocker !== undefined) {
      refuse(
        "start",
        g,
        `earlier group ${blocker.name} is ${blocker.state}, not done`,
        "use force to start it anyway",
      );
    }
    const prev = rollout.groups[i - 1];
    const waitHours = gc?.waitHours ?? 0;
    if (prev?.startTime !== undefined && now < prev.startTime + waitHours * HOUR_MS) {
      refuse(
        "start",
        g,
        `wait_hours ${waitHours} after ${prev.name} started: not before ${iso(prev.startTime + waitHours * HOUR_MS)}`,
        "use force to start it anyway",
      );
    }
    return (gc?.canaryCount ?? 0) > 0
      ? { to: "canary", reason: "started by an operator: canaries updating first", extra }
      : { to: "active", reason: "started by an operator", extra };
  });
}
