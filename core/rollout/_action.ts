// Private helpers shared by the operator actions. Not re-exported from mod.ts.
import { UpkeepError } from "../errors.ts";
import { findStatus, toMs, withGroup } from "./_util.ts";
import type { ActionResult, GroupState, GroupStatus, Rollout } from "./types.ts";

export type ActionInput = {
  rollout: Rollout;
  /** The group's name. */
  group: string;
  now: Date | number;
};

export function refuse(action: string, g: GroupStatus, why: string, hint?: string): never {
  throw new UpkeepError(
    "E_CONFLICT",
    `cannot ${action} group ${g.name}: ${why}`,
    hint === undefined ? {} : { hint },
  );
}

/** Applies a transition to the named group and returns the new rollout and its event. */
export function apply(
  input: ActionInput,
  check: (
    g: GroupStatus,
    index: number,
    now: number,
  ) => { to: GroupState; reason: string; extra?: Partial<GroupStatus> },
): ActionResult {
  const now = toMs(input.now);
  const { index, status } = findStatus(input.rollout, input.group);
  const { to, reason, extra } = check(status, index, now);
  const { forced: _was, ...rest } = status;
  const next: GroupStatus = { ...rest, ...extra, state: to, lastTransition: now, reason };
  return {
    rollout: withGroup(input.rollout, index, next),
    event: {
      at: now,
      kind: "transition",
      group: status.name,
      from: status.state,
      to,
      message: `group ${status.name}: ${reason}`,
    },
  };
}
