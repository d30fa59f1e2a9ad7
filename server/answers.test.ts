/**
 * What agents are told while the rollout held is not the one of the versions held: after an apply of new
 * versions, until the reconciler wrote the new rollout (and, with replicas, this replica read it). Found by the
 * fleet simulator on two replicas (issue 15): agents of a group the operator never started were told to
 * update to the new target, because the old rollout had that group done.
 */
import { expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { parseAutoupdateConfig, parseAutoupdateVersion } from "../core/resources/mod.ts";
import { createRollout } from "../core/rollout/create_rollout.ts";
import type { Rollout } from "../core/rollout/types.ts";
import { type RolloutState, tellAgent } from "./answers.ts";

const CONFIG = parseAutoupdateConfig(
  parseYaml(`kind: autoupdate_config
spec:
  agents:
    strategy: halt-on-error
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: 20, canary_count: 0 }
        - { name: prod, days: ["*"], start_hour: 20, wait_hours: 0 }
`),
);
const versions = (start: string, target: string) =>
  parseAutoupdateVersion({
    kind: "autoupdate_version",
    spec: { agents: { start_version: start, target_version: target, schedule: "regular", mode: "enabled" } },
  });

/** Rollout 1.1.0 -> 1.2.0 with every group done. */
function doneRollout(): Rollout {
  const r = createRollout({ config: CONFIG, startVersion: "1.1.0", targetVersion: "1.2.0", now: 0 });
  return { ...r, groups: r.groups.map((g) => ({ ...g, state: "done" as const })) };
}

const state = (version: ReturnType<typeof versions>, rollout: Rollout): RolloutState => ({
  config: CONFIG,
  version,
  rollout,
  serverVersion: undefined,
  isCritical: () => false,
  updaterVersion: "",
});

test("the rollout of the versions held: a done group's agents are told its target", () => {
  const told = tellAgent(state(versions("1.1.0", "1.2.0"), doneRollout()), "prod", "", 0);
  expect([told.agent_version, told.agent_auto_update, told.group_state]).toEqual(["1.2.0", true, "done"]);
});

test("new versions, the old rollout still held: every group is unstarted, agents stay on the start version", () => {
  // Applied 1.2.0 -> 1.3.0; the rollout held is still 1.1.0 -> 1.2.0's, where prod was done.
  const told = tellAgent(state(versions("1.2.0", "1.3.0"), doneRollout()), "prod", "", 0);
  expect(told.agent_version).toBe("1.2.0");
  expect(told.group_state).toBe("unstarted");
  // Another strategy is a new rollout too.
  const timeBased = {
    ...CONFIG,
    spec: { ...CONFIG.spec, agents: { ...CONFIG.spec.agents, strategy: "time-based" as const } },
  };
  const s = { ...state(versions("1.1.0", "1.2.0"), doneRollout()), config: timeBased };
  expect(tellAgent(s, "prod", "", 0).group_state).toBe("unstarted");
});
