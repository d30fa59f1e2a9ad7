import { type ActionInput, apply, refuse } from "./_action.ts";
import type { ActionResult } from "./types.ts";

/**
 * Operator action `rollback`: agents of the group are told `start_version` with `agent_auto_update: true`.
 * Allowed from `canary`, `active` and `done`. Under halt-on-error every later group stays halted until
 * this one is `done` again (start, force or done).
 *
 * @throws {UpkeepError} E_NOT_FOUND for an unknown group, E_CONFLICT from `unstarted` (nothing to roll
 * back: its agents are already told the start version) or `rolledback`.
 */
export function rollbackGroup(input: ActionInput): ActionResult {
  return apply(input, (g) => {
    if (g.state === "unstarted")
      refuse("roll back", g, "it has not started: its agents are on the start version");
    if (g.state === "rolledback") refuse("roll back", g, "it is already rolled back");
    return { to: "rolledback", reason: `rolled back by an operator (was ${g.state})` };
  });
}
