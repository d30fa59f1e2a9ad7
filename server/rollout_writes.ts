/** What RolloutService does to its state besides deciding: refusals of a resource, actions, the event log. */
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  BadResourceError,
  droppedSections,
} from "../core/resources/mod.ts";
import * as engine from "../core/rollout/mod.ts";
import type { RolloutEvent } from "../core/rollout/types.ts";
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

export const ACTIONS: Record<GroupAction, (input: engine.StartGroupInput) => engine.ActionResult> = {
  start: engine.startGroup,
  force: engine.forceGroup,
  done: engine.markGroupDone,
  rollback: engine.rollbackGroup,
};

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
