import type { AutoupdateConfig } from "../resources/types.ts";
import { toMs, unstartedStatus } from "./_util.ts";
import type { Rollout } from "./types.ts";

export type CreateRolloutInput = {
  config: AutoupdateConfig;
  startVersion: string;
  targetVersion: string;
  now: Date | number;
};

/** A fresh rollout: every group of the schedule `unstarted`, in schedule order. */
export function createRollout({ config, startVersion, targetVersion, now }: CreateRolloutInput): Rollout {
  const at = toMs(now);
  return {
    startVersion,
    targetVersion,
    strategy: config.spec.agents.strategy,
    startedAt: at,
    groups: config.spec.agents.groups.map((g) => unstartedStatus(g.name, at, "new rollout: not started yet")),
  };
}
