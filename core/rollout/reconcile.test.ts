import { describe, expect, test } from "bun:test";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import {
  agent,
  config,
  first,
  HOUR,
  MINUTE,
  MON,
  SERVER,
  START,
  status,
  TARGET,
  version,
} from "./_fixtures_test_util.ts";
import {
  type AgentReport,
  type GroupState,
  type GroupStatus,
  type ReconcileInput,
  type Rollout,
  reconcile,
  seededRandom,
} from "./mod.ts";

// halt-on-error: "stage" (2 canaries) then "prod" (wait 24 h), both every day at 09:00 UTC.
const HALT = config({
  strategy: "halt-on-error",
  schedules: {
    regular: [
      { name: "stage", days: ["*"], start_hour: 9, canary_count: 2 },
      { name: "prod", days: ["*"], start_hour: 9, wait_hours: 24 },
    ],
  },
});
// halt-on-error without canaries.
const PLAIN = config({
  schedules: {
    regular: [
      { name: "stage", days: ["*"], start_hour: 9 },
      { name: "prod", days: ["*"], start_hour: 9 },
    ],
  },
});
// time-based: "a" Mondays at 09:00 for 2 hours, "b" every day at 20:00.
const TIME = config({
  strategy: "time-based",
  maintenance_window_minutes: 120,
  schedules: {
    regular: [
      { name: "a", days: ["Mon"], start_hour: 9 },
      { name: "b", days: ["*"], start_hour: 20 },
    ],
  },
});

const IN = MON + 9 * HOUR + 5 * MINUTE; // inside the 09:00 windows
const OUT = MON + 12 * HOUR; // outside every window above

function rollout(cfg: AutoupdateConfig, groups: GroupStatus[], extra: Partial<Rollout> = {}): Rollout {
  return {
    startVersion: START,
    targetVersion: TARGET,
    strategy: cfg.spec.agents.strategy,
    startedAt: MON,
    groups,
    ...extra,
  };
}

function run(
  cfg: AutoupdateConfig,
  groups: GroupStatus[] | undefined,
  now: number,
  agents: AgentReport[] = [],
  extra: Partial<ReconcileInput> = {},
) {
  return reconcile({
    config: cfg,
    version: version(),
    rollout: groups === undefined ? undefined : rollout(cfg, groups),
    agents,
    serverVersion: SERVER,
    now,
    random: first,
    ...extra,
  });
}

const states = (r: { rollout: Rollout | undefined }) => r.rollout?.groups.map((g) => g.state);
const group = (r: { rollout: Rollout | undefined }, name: string) =>
  r.rollout?.groups.find((g) => g.name === name) as GroupStatus;

// Agents: stage has s1..s3, prod has p1, p2.
const onStart = (ids: string[], g: string) => ids.map((id) => agent(id, g, START));
const onTarget = (ids: string[], g: string) => ids.map((id) => agent(id, g, TARGET));

type Case = {
  name: string;
  cfg: AutoupdateConfig;
  before: [GroupState, Partial<GroupStatus>?][] | undefined;
  now: number;
  agents?: AgentReport[];
  extra?: Partial<ReconcileInput>;
  after: GroupState[];
  reason?: [string, RegExp];
};

const C1 = {
  canaries: [
    { updaterId: "s1", hostname: "host-s1", success: false },
    { updaterId: "s2", hostname: "host-s2", success: false },
  ],
};
const started = (t: number) => ({ startTime: t });

const CASES: Case[] = [
  // Rollout lifecycle
  {
    name: "first reconcile creates the rollout, every group unstarted",
    cfg: HALT,
    before: undefined,
    now: OUT,
    after: ["unstarted", "unstarted"],
  },
  // halt-on-error: unstarted
  {
    name: "halt: unstarted stays outside its window",
    cfg: HALT,
    before: [["unstarted"], ["unstarted"]],
    now: OUT,
    agents: onStart(["s1"], "stage"),
    after: ["unstarted", "unstarted"],
    reason: ["stage", /waiting for its window: next opens 2024-01-02T09:00:00.000Z/],
  },
  {
    name: "halt: unstarted -> active in its window (no canaries)",
    cfg: PLAIN,
    before: [["unstarted"], ["unstarted"]],
    now: IN,
    agents: onStart(["s1"], "stage"),
    after: ["active", "unstarted"],
  },
  {
    name: "halt: unstarted -> canary in its window (canary_count 2)",
    cfg: HALT,
    before: [["unstarted"], ["unstarted"]],
    now: IN,
    agents: onStart(["s1", "s2", "s3"], "stage"),
    after: ["canary", "unstarted"],
  },
  {
    // Teleport's isDoneHaltOnError: initial_count 0 waits the window's hour (upkeep was done at once).
    name: "halt: unstarted -> active for a group with no agents: it waits an hour, not done at once",
    cfg: HALT,
    before: [["unstarted"], ["unstarted"]],
    now: IN,
    agents: [],
    after: ["active", "unstarted"],
    reason: ["stage", /no agent reported when it started: done after 2024-01-01T10:05:00.000Z/],
  },
  {
    name: "halt: active with no agent at its start -> done once its hour is over",
    cfg: PLAIN,
    before: [["active", { initialCount: 0, startTime: IN - HOUR - MINUTE }], ["unstarted"]],
    now: IN,
    after: ["done", "active"],
    reason: ["stage", /^no agent reported when it started, its hour is over$/],
  },
  {
    name: "halt: active with no agent at its start stays within its hour, even when agents joined and updated",
    cfg: PLAIN,
    before: [["active", { initialCount: 0, startTime: IN - HOUR }], ["unstarted"]],
    now: IN,
    agents: onTarget(["s1"], "stage"),
    after: ["active", "unstarted"],
  },
  {
    // Teleport's done rule: present/initial >= 90% and up-to-date/present >= 90%.
    name: "halt: active -> done with 90% of the reporting agents on the target (one straggler of 10)",
    cfg: PLAIN,
    before: [["active", { initialCount: 10 }], ["unstarted"]],
    now: OUT,
    agents: [...onTarget(["a", "b", "c", "d", "e", "f", "g", "h", "i"], "stage"), agent("j", "stage", START)],
    after: ["done", "unstarted"],
    reason: ["stage", /^9 of 10 reporting agents run 17\.0\.1; 1 on another version$/],
  },
  {
    name: "halt: active stays below 90% on the target (8 of 10)",
    cfg: PLAIN,
    before: [["active", { initialCount: 10 }], ["unstarted"]],
    now: OUT,
    agents: [...onTarget(["a", "b", "c", "d", "e", "f", "g", "h"], "stage"), ...onStart(["i", "j"], "stage")],
    after: ["active", "unstarted"],
    reason: ["stage", /^updating: 8 of 10 reporting agents run 17.0.1$/],
  },
  {
    name: "halt: active stays while fewer than 90% of the agents there at its start report",
    cfg: PLAIN,
    before: [["active", { initialCount: 10 }], ["unstarted"]],
    now: OUT,
    agents: onTarget(["a", "b", "c", "d", "e", "f", "g", "h"], "stage"),
    after: ["active", "unstarted"],
    reason: ["stage", /updating: 8 of the 10 agents there at its start report \(90% needed\)/],
  },
  {
    name: "halt: unstarted waits for an earlier group that is not done",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: IN,
    agents: onStart(["s1"], "stage"),
    after: ["active", "unstarted"],
    reason: ["prod", /waiting for earlier group stage \(active\)/],
  },
  {
    name: "halt: unstarted waits for wait_hours after the previous group started",
    cfg: HALT,
    before: [["done", started(IN - HOUR)], ["unstarted"]],
    now: IN,
    after: ["done", "unstarted"],
    reason: ["prod", /waiting until 2024-01-02T08:05:00.000Z \(wait_hours 24 after stage started\)/],
  },
  {
    name: "halt: unstarted starts once wait_hours passed, in its window",
    cfg: HALT,
    before: [["done", started(IN - 24 * HOUR)], ["unstarted"]],
    now: IN,
    agents: onStart(["p1"], "prod"),
    after: ["done", "active"],
  },
  {
    name: "halt: no wait when the previous group has no start time (marked done)",
    cfg: HALT,
    before: [["done"], ["unstarted"]],
    now: IN,
    agents: onStart(["p1"], "prod"),
    after: ["done", "active"],
  },
  {
    name: "halt: a critical release starts a group outside its window",
    cfg: PLAIN,
    before: [["unstarted"], ["unstarted"]],
    now: OUT,
    agents: onStart(["s1"], "stage"),
    extra: { critical: true },
    after: ["active", "unstarted"],
    reason: ["stage", /updating: 0 of 1/],
  },
  {
    name: "halt: a critical release keeps the order",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: onStart(["s1"], "stage"),
    extra: { critical: true },
    after: ["active", "unstarted"],
  },
  // halt-on-error: canary
  {
    name: "halt: canary -> active when every canary runs the target healthy",
    cfg: HALT,
    before: [["canary", C1], ["unstarted"]],
    now: OUT,
    agents: [...onTarget(["s1", "s2"], "stage"), agent("s3", "stage", START)],
    after: ["active", "unstarted"],
  },
  {
    name: "halt: canary stays while a canary is pending",
    cfg: HALT,
    before: [["canary", C1], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET), agent("s2", "stage", START)],
    after: ["canary", "unstarted"],
    reason: ["stage", /waiting for canaries: 1 of 2/],
  },
  {
    name: "halt: canary stays while a canary does not report",
    cfg: HALT,
    before: [["canary", C1], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET)],
    after: ["canary", "unstarted"],
  },
  {
    name: "halt: canary -> rolledback when a canary's update failed",
    cfg: HALT,
    before: [["canary", C1], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET), agent("s2", "stage", START, true, TARGET)],
    after: ["rolledback", "unstarted"],
    reason: ["stage", /canary host-s2 \(s2\) failed on 17.0.1: its update failed; later groups halted/],
  },
  {
    name: "halt: canary -> rolledback when a canary is unhealthy on the target",
    cfg: HALT,
    before: [["canary", C1], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET, false)],
    after: ["rolledback", "unstarted"],
    reason: ["stage", /unhealthy on the target/],
  },
  {
    name: "halt: canary without canaries (operator start) -> canaries chosen",
    cfg: HALT,
    before: [["canary"], ["unstarted"]],
    now: OUT,
    agents: onStart(["s1", "s2", "s3"], "stage"),
    after: ["canary", "unstarted"],
  },
  {
    name: "halt: canary without canaries and no agents -> active (an empty group waits its hour)",
    cfg: HALT,
    before: [["canary"], ["unstarted"]],
    now: OUT,
    agents: [],
    after: ["active", "unstarted"],
  },
  // halt-on-error: active
  {
    name: "halt: active -> done when every reporting agent runs the target healthy",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: onTarget(["s1", "s2"], "stage"),
    after: ["done", "unstarted"],
    reason: ["stage", /all 2 reporting agents run 17.0.1/],
  },
  {
    name: "halt: active stays while agents are updating",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET), agent("s2", "stage", START)],
    after: ["active", "unstarted"],
    reason: ["stage", /updating: 1 of 2/],
  },
  {
    name: "halt: active -> rolledback when failures exceed the threshold",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: [agent("s1", "stage", TARGET), agent("s2", "stage", START, true, TARGET)],
    after: ["rolledback", "unstarted"],
    reason: ["stage", /1 of 2 reporting agents failed on 17.0.1 \(more than 10%\)/],
  },
  {
    name: "halt: active -> done with failures within the threshold",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: [
      ...onTarget(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "stage"),
      agent("k", "stage", START, true, TARGET),
    ],
    extra: { maxFailureRatio: 0.1 },
    after: ["done", "unstarted"],
    reason: ["stage", /^10 of 11 reporting agents run 17\.0\.1; 1 failed on it \(within the threshold\)$/],
  },
  {
    name: "halt: maxFailureRatio 0 rolls back on any failure",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: [
      ...onTarget(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "stage"),
      agent("k", "stage", TARGET, false),
    ],
    extra: { maxFailureRatio: 0 },
    after: ["rolledback", "unstarted"],
  },
  {
    name: "halt: done -> prod starts in the same step (window open, no wait)",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: IN,
    agents: [...onTarget(["s1"], "stage"), ...onStart(["p1"], "prod")],
    after: ["done", "active"],
  },
  {
    name: "halt: done stays done",
    cfg: PLAIN,
    before: [["done"], ["done"]],
    now: IN,
    agents: onStart(["s1"], "stage"),
    after: ["done", "done"],
  },
  {
    name: "halt: a rolledback group halts every later group",
    cfg: PLAIN,
    before: [["rolledback"], ["unstarted"]],
    now: IN,
    agents: onStart(["p1"], "prod"),
    after: ["rolledback", "unstarted"],
    reason: ["prod", /halted: waiting for earlier group stage \(rolledback\)/],
  },
  {
    name: "halt: rolledback stays rolledback",
    cfg: PLAIN,
    before: [["rolledback"], ["unstarted"]],
    now: IN,
    agents: onTarget(["s1"], "stage"),
    after: ["rolledback", "unstarted"],
  },
  // modes
  {
    name: "mode suspended: no transitions",
    cfg: PLAIN,
    before: [["unstarted"], ["unstarted"]],
    now: IN,
    agents: onStart(["s1"], "stage"),
    extra: { version: version({ mode: "suspended" }) },
    after: ["unstarted", "unstarted"],
  },
  {
    name: "mode suspended: an active group does not finish",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: IN,
    agents: onTarget(["s1"], "stage"),
    extra: { version: version({ mode: "suspended" }) },
    after: ["active", "unstarted"],
  },
  {
    name: "mode disabled: no transitions",
    cfg: config({
      mode: "disabled",
      schedules: { regular: [{ name: "stage", days: ["*"], start_hour: 9 }] },
    }),
    before: [["unstarted"]],
    now: IN,
    after: ["unstarted"],
  },
  // time-based
  {
    name: "time: unstarted stays outside its windows",
    cfg: TIME,
    before: [["unstarted"], ["unstarted"]],
    now: OUT,
    after: ["unstarted", "unstarted"],
    reason: ["b", /waiting for its first window: opens 2024-01-01T20:00:00.000Z/],
  },
  {
    name: "time: unstarted -> active in its window",
    cfg: TIME,
    before: [["unstarted"], ["unstarted"]],
    now: IN,
    after: ["active", "unstarted"],
  },
  {
    name: "time: active -> done when its window closes",
    cfg: TIME,
    before: [["active", started(MON + 9 * HOUR)], ["unstarted"]],
    now: MON + 11 * HOUR,
    after: ["done", "unstarted"],
    reason: ["a", /window closed: next opens 2024-01-08T09:00:00.000Z/],
  },
  {
    name: "time: active stays until the window's end",
    cfg: TIME,
    before: [["active", started(MON + 9 * HOUR)], ["unstarted"]],
    now: MON + 11 * HOUR - 1,
    after: ["active", "unstarted"],
  },
  {
    name: "time: done -> active again at the next window",
    cfg: TIME,
    before: [["done", started(MON + 9 * HOUR - 7 * 24 * HOUR)], ["done"]],
    now: MON + 20 * HOUR,
    after: ["done", "active"],
  },
  {
    name: "time: an operator start outside a window lasts maintenance_window_minutes",
    cfg: TIME,
    before: [["unstarted"], ["active", started(OUT - 60 * MINUTE)]],
    now: OUT,
    after: ["unstarted", "active"],
  },
  {
    name: "time: ... and ends after it",
    cfg: TIME,
    before: [["unstarted"], ["active", started(OUT - 120 * MINUTE)]],
    now: OUT,
    after: ["unstarted", "done"],
  },
  {
    name: "time: a critical release activates an unstarted group outside its window",
    cfg: TIME,
    before: [["unstarted"], ["done"]],
    now: OUT,
    extra: { critical: true },
    after: ["active", "done"],
  },
  {
    name: "time: rolledback stays rolledback in its window",
    cfg: TIME,
    before: [["rolledback"], ["unstarted"]],
    now: IN,
    after: ["rolledback", "unstarted"],
  },
  {
    name: "time: no automatic rollback on failures",
    cfg: TIME,
    before: [["active", started(MON + 9 * HOUR)], ["unstarted"]],
    now: IN,
    agents: [agent("x", "a", TARGET, false)],
    after: ["active", "unstarted"],
  },
  {
    name: "time: groups are independent (no order)",
    cfg: TIME,
    before: [["unstarted"], ["unstarted"]],
    now: MON + 20 * HOUR + MINUTE,
    after: ["unstarted", "active"],
  },
  // immediate
  {
    name: "immediate: every group becomes active",
    cfg: PLAIN,
    before: [["unstarted"], ["canary"]],
    now: OUT,
    agents: [...onStart(["s1"], "stage"), ...onStart(["p1"], "prod")],
    extra: { version: version({ schedule: "immediate" }) },
    after: ["active", "active"],
  },
  {
    name: "immediate: active -> done when complete; an empty group waits its hour",
    cfg: PLAIN,
    before: [["active"], ["unstarted"]],
    now: OUT,
    agents: onTarget(["s1"], "stage"),
    extra: { version: version({ schedule: "immediate" }) },
    after: ["done", "active"],
  },
  {
    name: "immediate: rolledback stays rolledback",
    cfg: PLAIN,
    before: [["rolledback"], ["unstarted"]],
    now: OUT,
    extra: { version: version({ schedule: "immediate" }) },
    after: ["rolledback", "active"],
  },
  {
    name: "immediate: no automatic rollback",
    cfg: PLAIN,
    before: [["active"], ["done"]],
    now: OUT,
    agents: [agent("s1", "stage", START, true, TARGET), agent("s2", "stage", START)],
    extra: { version: version({ schedule: "immediate" }) },
    after: ["active", "done"],
  },
];

describe("reconcile: every transition", () => {
  test.each(CASES)("$name", (c) => {
    const names = c.cfg.spec.agents.groups.map((g) => g.name);
    // A started group had its reporting agents when it started (initialCount), unless the case says.
    const initial = (name: string) => (c.agents ?? []).filter((a) => a.group === name).length;
    const before = c.before?.map(([s, extra], i) =>
      status(names[i] as string, s, {
        ...(s === "active" ? { initialCount: initial(names[i] as string) } : {}),
        ...extra,
      }),
    );
    const r = run(c.cfg, before, c.now, c.agents, c.extra);
    expect(states(r)).toEqual(c.after);
    if (c.reason) expect(group(r, c.reason[0]).reason).toMatch(c.reason[1]);
    // Every state change has an event; an unchanged state has none.
    c.after.forEach((to, i) => {
      const from = c.before?.[i]?.[0] ?? "unstarted";
      const changed = r.events.some((e) => e.kind === "transition" && e.group === names[i]);
      if (from !== to) expect(changed).toBe(true);
      const g = r.rollout?.groups[i] as GroupStatus;
      if (changed) expect(g.lastTransition).toBe(c.now);
    });
  });
});

describe("reconcile: details", () => {
  test("a critical start says so in its event", () => {
    const r = run(
      PLAIN,
      [status("stage", "unstarted"), status("prod", "unstarted")],
      OUT,
      onStart(["s1"], "stage"),
      {
        critical: true,
      },
    );
    expect(r.events.map((e) => e.message)).toContain(
      "group stage: critical release: started outside its window: active",
    );
  });
  test("the first rollout has an event", () => {
    const r = run(HALT, undefined, OUT);
    expect(r.events[0]?.kind).toBe("rollout");
    expect(r.rollout).toMatchObject({
      startVersion: START,
      targetVersion: TARGET,
      strategy: "halt-on-error",
      startedAt: OUT,
    });
  });
  test("a new target version resets every group to unstarted", () => {
    const r = run(PLAIN, [status("stage", "done"), status("prod", "active")], OUT, [], {
      version: version({ target_version: "17.0.2" }),
      serverVersion: "17.0.2",
    });
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
    expect(r.events[0]?.message).toMatch(
      /new rollout 16.4.0 -> 17.0.2 .*versions changed from 16.4.0 -> 17.0.1/,
    );
  });
  test("rolloutChangedInWindow: a new target set inside an open window waits for the next window", () => {
    // stage updates every day at 09:00; the target changes at 09:05 (IN): stage already used this window for
    // the previous rollout, so it waits for tomorrow's 09:00 (Teleport's rolloutChangedInWindow).
    const r = run(PLAIN, [status("stage", "done"), status("prod", "done")], IN, onStart(["s1"], "stage"), {
      version: version({ target_version: "17.0.2" }),
      serverVersion: "17.0.2",
    });
    expect(r.rollout?.replaced).toBe(true);
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
    expect(group(r, "stage").reason).toBe(
      "the rollout began at 2024-01-01T09:05:00.000Z, after its window opened at 2024-01-01T09:00:00.000Z: waiting for its next window (2024-01-02T09:00:00.000Z)",
    );
    const step = (rollout: Rollout | undefined, now: number, extra: Partial<ReconcileInput> = {}) =>
      reconcile({
        config: PLAIN,
        version: version({ target_version: "17.0.2" }),
        rollout,
        agents: onStart(["s1"], "stage"),
        serverVersion: "17.0.2",
        now,
        random: first,
        ...extra,
      });
    // Still waiting later in the same window; a critical release starts it all the same.
    expect(states(step(r.rollout, IN + 30 * MINUTE))).toEqual(["unstarted", "unstarted"]);
    expect(states(step(r.rollout, IN + 30 * MINUTE, { critical: true }))).toEqual(["active", "unstarted"]);
    // The next day's window is the new rollout's own.
    expect(states(step(r.rollout, IN + 24 * HOUR))).toEqual(["active", "unstarted"]);
  });
  test("rolloutChangedInWindow: the first rollout may use the window open now (nothing used it before)", () => {
    const r = run(PLAIN, undefined, IN, onStart(["s1"], "stage"));
    expect(r.rollout?.replaced).toBeUndefined();
    expect(states(r)).toEqual(["active", "unstarted"]);
  });
  test("rolloutChangedInWindow, time-based: a replaced rollout does not activate a group in a window open before it", () => {
    const before = rollout(TIME, [status("a", "done"), status("b", "done")]);
    const r = reconcile({
      config: TIME,
      version: version({ start_version: "16.5.0" }),
      rollout: before,
      agents: [],
      serverVersion: SERVER,
      now: IN,
      random: first,
    });
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
    expect(group(r, "a").reason).toMatch(/after its window opened at 2024-01-01T09:00:00.000Z/);
    // a's next window is next Monday; b's (20:00) opens after the rollout began: b activates there.
    const evening = reconcile({
      config: TIME,
      version: version({ start_version: "16.5.0" }),
      rollout: r.rollout,
      agents: [],
      serverVersion: SERVER,
      now: MON + 20 * HOUR + MINUTE,
      random: first,
    });
    expect(states(evening)).toEqual(["unstarted", "active"]);
  });
  test("an operator start seen with stale counts takes the initial count at the next step", () => {
    // The stored counts say 0 (the reports came after the last step): the group is not "empty at its start".
    const r = run(
      PLAIN,
      [
        status("stage", "active", { initialCount: 0, initialPending: true, startTime: OUT }),
        status("prod", "unstarted"),
      ],
      OUT + MINUTE,
      onStart(["s1", "s2"], "stage"),
    );
    expect(group(r, "stage")).toMatchObject({ state: "active", initialCount: 2 });
    expect(group(r, "stage").initialPending).toBeUndefined();
    expect(group(r, "stage").reason).toBe("updating: 0 of 2 reporting agents run 17.0.1");
  });
  test("a new start version resets too", () => {
    const r = run(PLAIN, [status("stage", "done"), status("prod", "active")], OUT, [], {
      version: version({ start_version: "16.5.0" }),
    });
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
  });
  test("a new strategy resets", () => {
    const r = reconcile({
      config: PLAIN,
      version: version(),
      rollout: {
        ...rollout(PLAIN, [status("stage", "done"), status("prod", "done")]),
        strategy: "time-based",
      },
      agents: [],
      serverVersion: SERVER,
      now: OUT,
      random: first,
    });
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
    expect(r.events[0]?.message).toMatch(/strategy changed from time-based/);
  });
  test("a new schedule (immediate -> regular) resets: no group stays done from the immediate rollout", () => {
    // Under immediate every group went done; back on regular, an operator rolled stage back: prod must not
    // stay done behind it (Teleport resets the rollout status on a schedule change).
    const stored = {
      ...rollout(PLAIN, [status("stage", "done"), status("prod", "done")]),
      schedule: "immediate" as const,
    };
    const r = reconcile({
      config: PLAIN,
      version: version({ schedule: "regular" }),
      rollout: stored,
      agents: [],
      serverVersion: SERVER,
      now: OUT,
      random: first,
    });
    expect(states(r)).toEqual(["unstarted", "unstarted"]);
    expect(r.rollout?.schedule).toBe("regular");
    expect(r.rollout?.startedAt).toBe(OUT);
    expect(r.events[0]?.message).toMatch(/schedule changed from immediate/);
    // regular -> immediate resets too (then every group goes active at once).
    const back = reconcile({
      config: PLAIN,
      version: version({ schedule: "immediate" }),
      rollout: r.rollout,
      agents: onStart(["s1"], "stage"),
      serverVersion: SERVER,
      now: OUT + MINUTE,
      random: first,
    });
    expect(back.events[0]?.message).toMatch(/schedule changed from regular/);
    expect(back.rollout?.schedule).toBe("immediate");
  });
  test("a mode change does not reset; a rollout stored without a schedule adopts the current one", () => {
    const before = rollout(PLAIN, [status("stage", "done"), status("prod", "active")]);
    const r = reconcile({
      config: PLAIN,
      version: version({ mode: "suspended" }),
      rollout: before,
      agents: onStart(["p1"], "prod"),
      serverVersion: SERVER,
      now: OUT,
      random: first,
    });
    expect(states(r)).toEqual(["done", "active"]);
    expect(r.events.filter((e) => e.kind === "rollout")).toEqual([]);
    expect(r.rollout?.schedule).toBe("regular");
    expect(r.rollout?.startedAt).toBe(MON);
  });
  test("a changed schedule keeps the groups it still has", () => {
    const cfg = config({
      schedules: {
        regular: [
          { name: "new", days: ["*"], start_hour: 3 },
          { name: "prod", days: ["*"], start_hour: 9 },
        ],
      },
    });
    const r = run(
      cfg,
      [status("stage", "done"), status("prod", "active", { initialCount: 1 })],
      OUT,
      onStart(["p1"], "prod"),
    );
    expect(r.rollout?.groups.map((g) => [g.name, g.state])).toEqual([
      ["new", "unstarted"],
      ["prod", "active"],
    ]);
    expect(r.events.map((e) => e.kind).sort()).toEqual(["group_added", "group_removed"]);
  });
  test("no spec.agents: no rollout", () => {
    const v = { ...version(), spec: {} } as AutoupdateVersion;
    const r = reconcile({
      config: PLAIN,
      version: v,
      rollout: rollout(PLAIN, []),
      agents: [],
      serverVersion: SERVER,
      now: OUT,
      random: first,
    });
    expect(r.rollout).toBeUndefined();
    expect(r.events).toHaveLength(1);
    expect(
      reconcile({
        config: PLAIN,
        version: undefined,
        rollout: undefined,
        agents: [],
        serverVersion: SERVER,
        now: OUT,
        random: first,
      }).events,
    ).toEqual([]);
  });
  test("counts refresh; an agent with an unknown group counts in the last group; duplicates count once", () => {
    const r = run(PLAIN, [status("stage", "active"), status("prod", "unstarted")], OUT, [
      agent("s1", "stage", TARGET),
      agent("s2", "stage", START),
      agent("s2", "stage", START),
      agent("s3", "stage", TARGET, false),
      agent("x", "typo", START),
      agent("y", undefined, TARGET),
    ]);
    expect(group(r, "stage")).toMatchObject({ presentCount: 3, upToDateCount: 1, failedCount: 1 });
    expect(group(r, "prod")).toMatchObject({ presentCount: 2, upToDateCount: 1, failedCount: 0 });
  });
  test("a done group's reason follows its counts: a host that went back after the group finished", () => {
    // stage finished with its one agent on the target; then the host went back to the start version on
    // its own (`upkeep agent rollback`): the counts say 0 up to date, and so must the reason.
    const done = status("stage", "done", {
      reason: "all 1 reporting agents run 17.0.1",
      presentCount: 1,
      upToDateCount: 1,
      lastTransition: MON + HOUR,
    });
    const r = run(PLAIN, [done, status("prod", "unstarted")], OUT, onStart(["s1"], "stage"));
    const g = group(r, "stage");
    expect([g.state, g.presentCount, g.upToDateCount, g.failedCount]).toEqual(["done", 1, 0, 0]);
    expect(g.reason).toBe(
      "done since 2024-01-01T01:00:00.000Z; now 0 of 1 reporting agents run 17.0.1; 1 on another version",
    );
    expect(r.events).toEqual([]);
    // Back on the target: the reason says so again. Unchanged counts keep the reason (and the object).
    const again = run(PLAIN, r.rollout?.groups, OUT, onTarget(["s1"], "stage"));
    expect(group(again, "stage").reason).toBe(
      "done since 2024-01-01T01:00:00.000Z; now all 1 reporting agents run 17.0.1",
    );
    const same = run(PLAIN, again.rollout?.groups, OUT + HOUR, onTarget(["s1"], "stage"));
    expect(group(same, "stage").reason).toBe(group(again, "stage").reason);
  });

  test("schedule immediate: a group done with a failed host says 0 of 1 run the target, not all", () => {
    // A failed update counts as settled for done (it will not try again), unlike Teleport.
    const r = run(
      PLAIN,
      [status("stage", "active", { initialCount: 1 }), status("prod", "active", { initialCount: 1 })],
      OUT,
      [agent("s1", "stage", START, true, TARGET)],
      { version: version({ schedule: "immediate" }) },
    );
    const g = group(r, "stage");
    expect([g.state, g.upToDateCount, g.failedCount]).toEqual(["done", 0, 1]);
    expect(g.reason).toBe("0 of 1 reporting agents run 17.0.1; 1 failed on it");
  });

  test("counts refresh even when suspended", () => {
    const r = run(
      PLAIN,
      [status("stage", "active"), status("prod", "unstarted")],
      OUT,
      onTarget(["s1"], "stage"),
      {
        version: version({ mode: "suspended" }),
      },
    );
    expect(group(r, "stage")).toMatchObject({ state: "active", presentCount: 1, upToDateCount: 1 });
  });
  test("done is judged against the target capped at the server version", () => {
    const r = run(
      PLAIN,
      [status("stage", "active"), status("prod", "unstarted")],
      OUT,
      onTarget(["s1"], "stage"),
      {
        version: version({ target_version: "18.0.0" }),
        rollout: {
          ...rollout(PLAIN, [status("stage", "active"), status("prod", "unstarted")]),
          targetVersion: "18.0.0",
        },
      },
    );
    expect(group(r, "stage").state).toBe("done");
  });
  test("without a server version the target is taken as given (no cap): done only on the real target", () => {
    const before = [status("stage", "active", { initialCount: 1 }), status("prod", "unstarted")];
    const extra = {
      version: version({ target_version: "18.0.0" }),
      rollout: { ...rollout(PLAIN, before), targetVersion: "18.0.0" },
      serverVersion: undefined,
    };
    // Running 17.0.1 (what the cap would have made the target) is not up to date: the group updates.
    const r = run(PLAIN, before, OUT, onTarget(["s1"], "stage"), extra);
    expect(group(r, "stage")).toMatchObject({ state: "active", upToDateCount: 0 });
    const d = run(PLAIN, before, OUT, [agent("s1", "stage", "18.0.0")], extra);
    expect(group(d, "stage")).toMatchObject({ state: "done", upToDateCount: 1 });
    expect(group(d, "stage").reason).toContain("run 18.0.0");
  });
  test("versions compare as semver (v prefix, build metadata)", () => {
    const r = run(PLAIN, [status("stage", "active"), status("prod", "unstarted")], OUT, [
      agent("s1", "stage", "v17.0.1+b7"),
    ]);
    expect(group(r, "stage").state).toBe("done");
  });
  test("canaries: chosen among healthy agents, recorded with an event, initialCount set", () => {
    const agents = [
      agent("s3", "stage", START),
      agent("s1", "stage", START, false),
      agent("s2", "stage", START),
    ];
    const r = run(HALT, [status("stage", "unstarted"), status("prod", "unstarted")], IN, agents);
    const g = group(r, "stage");
    expect(g.canaries.map((c) => c.updaterId).sort()).toEqual(["s2", "s3"]);
    expect(g.initialCount).toBe(3);
    expect(g.startTime).toBe(IN);
    expect(r.events.some((e) => e.kind === "canaries" && e.message.includes("host-s2 (s2)"))).toBe(true);
  });
  test("canaries: fewer agents than canary_count -> all of them", () => {
    const r = run(
      HALT,
      [status("stage", "unstarted"), status("prod", "unstarted")],
      IN,
      onStart(["s1"], "stage"),
    );
    expect(group(r, "stage").canaries.map((c) => c.updaterId)).toEqual(["s1"]);
  });
  test("canaries: success flags are recorded", () => {
    const r = run(HALT, [status("stage", "canary", C1), status("prod", "unstarted")], OUT, [
      agent("s1", "stage", TARGET),
    ]);
    expect(group(r, "stage").canaries.map((c) => c.success)).toEqual([true, false]);
  });
  test("the input rollout is not mutated", () => {
    const before = rollout(PLAIN, [status("stage", "unstarted"), status("prod", "unstarted")]);
    const copy = structuredClone(before);
    reconcile({
      config: PLAIN,
      version: version(),
      rollout: before,
      agents: onTarget(["s1"], "stage"),
      serverVersion: SERVER,
      now: IN,
      random: first,
    });
    expect(before).toEqual(copy);
  });
  test("an unchanged step returns the same rollout object and no events", () => {
    const a = run(PLAIN, [status("stage", "active"), status("prod", "unstarted")], OUT, [
      agent("s1", "stage", START),
    ]);
    const b = reconcile({
      config: PLAIN,
      version: version(),
      rollout: a.rollout,
      agents: [agent("s1", "stage", START)],
      serverVersion: SERVER,
      now: OUT + MINUTE,
      random: first,
    });
    expect(b.events).toEqual([]);
    expect(b.rollout).toBe(a.rollout as Rollout);
  });
});

describe("reconcile: a simulated week (halt-on-error)", () => {
  test("agents that update when told end with every group done, in order", () => {
    const hosts: AgentReport[] = [
      ...["s1", "s2", "s3", "s4"].map((id) => agent(id, "stage", START)),
      ...["p1", "p2", "p3"].map((id) => agent(id, "prod", START)),
      agent("u1", undefined, START),
    ];
    let state: Rollout | undefined;
    const random = seededRandom(42);
    const firstActive = new Map<string, number>();
    for (let t = MON; t < MON + 5 * 24 * HOUR; t += 10 * MINUTE) {
      const r = reconcile({
        config: HALT,
        version: version(),
        rollout: state,
        agents: hosts,
        serverVersion: SERVER,
        now: t,
        random,
      });
      state = r.rollout as Rollout;
      for (const g of state.groups)
        if (g.state !== "unstarted" && !firstActive.has(g.name)) firstActive.set(g.name, t);
      // Each agent does what it is told.
      for (const h of hosts) {
        const groupName = h.group === "stage" ? "stage" : "prod";
        const g = state.groups.find((x) => x.name === groupName) as GroupStatus;
        const isCanary = g.canaries.some((c) => c.updaterId === h.updaterId);
        const told = g.state === "active" || g.state === "done" || (g.state === "canary" && isCanary);
        if (told) h.version = TARGET;
      }
    }
    expect(state?.groups.map((g) => g.state)).toEqual(["done", "done"]);
    // prod started no earlier than 24 h after stage started, and in its 09:00 window.
    const stage = firstActive.get("stage") as number;
    const prod = firstActive.get("prod") as number;
    expect(prod - stage).toBeGreaterThanOrEqual(24 * HOUR);
    expect(new Date(prod).getUTCHours()).toBe(9);
  });
});

test("halt-on-error: an earlier group rolled back halts a later group that had started (not a forced one)", () => {
  const agents = [...onTarget(["s1", "s2", "s3"], "stage"), ...onStart(["p1", "p2"], "prod")];
  const r = run(
    PLAIN,
    [status("stage", "rolledback"), status("prod", "active", { startTime: MON })],
    IN,
    agents,
  );
  expect(states(r)).toEqual(["rolledback", "unstarted"]);
  expect(group(r, "prod").reason).toContain("halted");
  expect(r.events.map((e) => e.message)).toContainEqual(
    expect.stringContaining("group prod: halted: earlier group stage was rolled back"),
  );
  const forced = run(
    PLAIN,
    [
      status("stage", "rolledback"),
      status("prod", "active", { startTime: MON, forced: true, initialCount: 2 }),
    ],
    IN,
    agents,
  );
  expect(states(forced)).toEqual(["rolledback", "active"]);
});
