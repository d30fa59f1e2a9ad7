import { type ActionInput, apply, refuse } from "./_action.ts";
import type { ActionResult } from "./types.ts";

/**
 * Operator action `done`: mark a group `done` from any other state (e.g. to let a halt-on-error rollout
 * proceed past a group the operator checked by hand, or past a rolled-back group).
 *
 * @throws {UpkeepError} E_NOT_FOUND for an unknown group, E_CONFLICT when it is already done.
 */
export function markGroupDone(input: ActionInput): ActionResult {
  return apply(input, (g) => {
    if (g.state === "done") refuse("mark done", g, "it is already done");
    return { to: "done", reason: `marked done by an operator (was ${g.state})` };
  });
}
