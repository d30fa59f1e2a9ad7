// decideAgent against Teleport's lib/autoupdate/lookup/rfd_184.go, state by state and mode by mode: the two
// functions below transcribe getVersionFromRollout and getTriggerFromRollout (halt-on-error, no server cap).
import { describe, expect, test } from "bun:test";
import type { AgentMode } from "../resources/types.ts";
import { config, HOUR, MON, START, status, TARGET, version } from "./_fixtures_test_util.ts";
import { decideAgent, type GroupState } from "./mod.ts";

function teleportVersion(mode: AgentMode, schedule: string, state: GroupState, canary: boolean): string {
  if (mode === "disabled" || schedule === "immediate") return TARGET;
  if (state === "unstarted" || state === "rolledback") return START;
  if (state === "canary") return canary ? TARGET : START;
  return TARGET;
}

function teleportTrigger(mode: AgentMode, schedule: string, state: GroupState, canary: boolean): boolean {
  if (mode !== "enabled") return false;
  if (schedule === "immediate") return true;
  if (state === "canary") return canary;
  return state !== "unstarted"; // active, rolledback, and done under halt-on-error
}

const HALT = config({ schedules: { regular: [{ name: "g", days: ["*"], start_hour: 9 }] } });
const STATES: GroupState[] = ["unstarted", "canary", "active", "done", "rolledback"];
const ROWS = (["enabled", "suspended", "disabled"] as const).flatMap((mode) =>
  (["regular", "immediate"] as const).flatMap((schedule) =>
    STATES.flatMap((state) => [true, false].map((canary) => ({ mode, schedule, state, canary }))),
  ),
);

/**
 * The one deliberate difference: under `immediate` Teleport keeps no groups (its rollback refuses an
 * immediate rollout), so no group is rolled back there; upkeep lets an operator roll a group back under
 * immediate and honours it: start_version, updating unless the mode says no.
 */
function upkeepVersion(mode: AgentMode, schedule: string, state: GroupState, canary: boolean): string {
  if (mode !== "disabled" && schedule === "immediate" && state === "rolledback") return START;
  return teleportVersion(mode, schedule, state, canary);
}

describe("the find answer of every state, mode and schedule is rfd_184.go's", () => {
  test.each(ROWS)("$mode $schedule $state canary=$canary", ({ mode, schedule, state, canary }) => {
    const d = decideAgent({
      config: HALT,
      version: version({ mode, schedule }),
      groups: [status("g", state, { canaries: [{ updaterId: "c1", hostname: "c1", success: false }] })],
      serverVersion: undefined,
      agentGroup: "g",
      updaterId: canary ? "c1" : "other",
      now: MON + 12 * HOUR,
    });
    expect([d.agent_version, d.agent_auto_update]).toEqual([
      upkeepVersion(mode, schedule, state, canary),
      teleportTrigger(mode, schedule, state, canary),
    ]);
  });
});
