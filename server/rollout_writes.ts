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
import type { Store } from "./store.ts";

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

/** Stores the rollout's events (each with its time and reason) and logs them. */
export async function recordEvents(
  store: Store,
  log: (msg: string, fields?: Record<string, unknown>) => void,
  events: RolloutEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await store.appendEvents(
    events.map((e) => ({
      time: new Date(e.at).toISOString(),
      group: e.group ?? "",
      from: e.from ?? "",
      to: e.to ?? "",
      reason: e.message,
    })),
  );
  for (const e of events) log(`rollout: ${e.message}`, { group: e.group, from: e.from, to: e.to });
}
