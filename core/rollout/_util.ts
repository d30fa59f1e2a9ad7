// Private helpers for the rollout functions. Not re-exported from mod.ts.
import { UpkeepError } from "../errors.ts";
import type { AutoupdateConfig } from "../resources/types.ts";
import type { GroupStatus, Rollout } from "./types.ts";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export function toMs(now: Date | number): number {
  const ms = typeof now === "number" ? now : now.getTime();
  if (!Number.isFinite(ms)) throw new UpkeepError("E_INTERNAL", `invalid instant: ${String(now)}`);
  return ms;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function unstartedStatus(name: string, now: number, reason: string): GroupStatus {
  return {
    name,
    state: "unstarted",
    lastTransition: now,
    reason,
    canaries: [],
    initialCount: 0,
    presentCount: 0,
    upToDateCount: 0,
    failedCount: 0,
  };
}

/** The status of a group by name, or an `E_UNKNOWN_GROUP` error listing the groups. */
export function findStatus(rollout: Rollout, name: string): { index: number; status: GroupStatus } {
  const index = rollout.groups.findIndex((g) => g.name === name);
  const status = rollout.groups[index];
  if (status === undefined) {
    const known = rollout.groups.map((g) => g.name).join(", ");
    throw new UpkeepError(
      "E_NOT_FOUND",
      `no group ${JSON.stringify(name)} in the rollout (groups: ${known})`,
      {
        hint: "the groups are spec.agents.schedules.regular in autoupdate_config",
      },
    );
  }
  return { index, status };
}

export function groupConfig(config: AutoupdateConfig, name: string) {
  return config.spec.agents.groups.find((g) => g.name === name);
}

/** A copy of the rollout with group `index` replaced. */
export function withGroup(rollout: Rollout, index: number, status: GroupStatus): Rollout {
  const groups = rollout.groups.slice();
  groups[index] = status;
  return { ...rollout, groups };
}
