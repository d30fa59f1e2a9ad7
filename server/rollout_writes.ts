/** What RolloutService does to its state besides deciding: refusals of a resource, actions, the event log. */
import { UpkeepError } from "../core/errors.ts";
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  BadResourceError,
  droppedSections,
} from "../core/resources/mod.ts";
import * as engine from "../core/rollout/mod.ts";
import type { Rollout, RolloutEvent } from "../core/rollout/types.ts";
import type { GroupAction } from "../core/wire/mod.ts";
import type { RolloutEvent as StoredEvent } from "./store.ts";

/** A document that leaves out a section the stored resource sets: E_BAD_RESOURCE naming it. */
export function refuseDropped(
  kind: "autoupdate_config" | "autoupdate_version",
  stored: AutoupdateConfig | AutoupdateVersion | undefined,
  doc: unknown,
): void {
  const problems = droppedSections(stored, doc);
  if (problems.length > 0) throw new BadResourceError(kind, problems);
}

const ACTIONS: Record<GroupAction, (input: engine.StartGroupInput) => engine.ActionResult> = {
  start: engine.startGroup,
  force: engine.forceGroup,
  done: engine.markGroupDone,
  rollback: engine.rollbackGroup,
};

/** What an operator's `action` on `group` makes of `rollout` (none in progress: E_CONFLICT). */
export function actionChange(
  action: GroupAction,
  group: string,
  input: { rollout: Rollout | undefined; now: Date; config: AutoupdateConfig },
): { next: Rollout; events: RolloutEvent[] } {
  const { rollout, now, config } = input;
  if (!rollout)
    throw new UpkeepError("E_CONFLICT", "no rollout in progress: set autoupdate_version spec.agents first");
  const r = ACTIONS[action]({ rollout, group, now, config });
  return { next: r.rollout, events: [r.event] };
}

/** The action could not be written: other replicas kept moving the rollout (nothing was changed). */
export function keptChanging(action: GroupAction, group: string): UpkeepError {
  return new UpkeepError(
    "E_CONFLICT",
    `the rollout kept changing while ${action} ${group} was applied (other replicas writing): nothing was changed`,
    { hint: "try again" },
  );
}

/** A group started that the reconcile after it rolled back again at once: E_CONFLICT saying why. */
export function refuseRolledBackAgain(
  action: GroupAction,
  group: string,
  rollout: Rollout | undefined,
): void {
  const after = rollout?.groups.find((g) => g.name === group);
  if (action === "start" && after?.state === "rolledback") {
    throw new UpkeepError("E_CONFLICT", `group ${group} rolled back again at once: ${after.reason}`, {
      hint: `agents still report failures on ${rollout?.targetVersion}; use force to proceed anyway, or fix the release`,
    });
  }
}

/** The rollout's events as the store keeps them (each with its time and reason). */
export function storedEvents(events: readonly RolloutEvent[]): StoredEvent[] {
  return events.map((e) => ({
    time: new Date(e.at).toISOString(),
    group: e.group ?? "",
    from: e.from ?? "",
    to: e.to ?? "",
    reason: e.message,
  }));
}

/** Logs the rollout's events (once they are stored). */
export function logEvents(
  log: (msg: string, fields?: Record<string, unknown>) => void,
  events: readonly RolloutEvent[],
): void {
  for (const e of events) log(`rollout: ${e.message}`, { group: e.group, from: e.from, to: e.to });
}
