import type { AgentSchedule, AutoupdateConfig } from "../resources/types.ts";
import { toMs, unstartedStatus } from "./_util.ts";
import type { Rollout } from "./types.ts";

export type CreateRolloutInput = {
  config: AutoupdateConfig;
  startVersion: string;
  targetVersion: string;
  /** The version resource's `spec.agents.schedule` (default `regular`). */
  schedule?: AgentSchedule;
  /** It replaces an earlier rollout (see `Rollout.replaced`). */
  replaced?: boolean;
  now: Date | number;
};

/** A fresh rollout: every group of the schedule `unstarted`, in schedule order. */
export function createRollout({
  config,
  startVersion,
  targetVersion,
  schedule = "regular",
  replaced = false,
  now,
}: CreateRolloutInput): Rollout {
  const at = toMs(now);
  return {
    startVersion,
    targetVersion,
    strategy: config.spec.agents.strategy,
    schedule,
    ...(replaced ? { replaced } : {}),
    startedAt: at,
    groups: config.spec.agents.groups.map((g) => unstartedStatus(g.name, at, "new rollout: not started yet")),
  };
}
