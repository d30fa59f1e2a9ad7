import { describe, expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import type { AutoupdateConfig } from "../resources/types.ts";
import { config, HOUR, MON, START, status, TARGET } from "./_fixtures_test_util.ts";
import {
  type ActionResult,
  forceGroup,
  type GroupState,
  type GroupStatus,
  markGroupDone,
  type Rollout,
  rollbackGroup,
  startGroup,
} from "./mod.ts";

const HALT = config({
  schedules: {
    regular: [
      { name: "a", days: ["*"], start_hour: 9 },
      { name: "b", days: ["*"], start_hour: 9, wait_hours: 24, canary_count: 2 },
    ],
  },
});
const TIME = config({
  strategy: "time-based",
  maintenance_window_minutes: 30,
  schedules: {
    regular: [
      { name: "a", days: ["Mon"], start_hour: 9 },
      { name: "b", days: ["Mon"], start_hour: 9 },
    ],
  },
});
const NOW = MON + 12 * HOUR;

function rollout(cfg: AutoupdateConfig, a: GroupStatus, b: GroupStatus): Rollout {
  return {
    startVersion: START,
    targetVersion: TARGET,
    strategy: cfg.spec.agents.strategy,
    startedAt: MON,
    groups: [a, b],
  };
}

type Action = "start" | "force" | "done" | "rollback";
function act(action: Action, cfg: AutoupdateConfig, r: Rollout, group: string): ActionResult {
  const input = { rollout: r, group, now: NOW, config: cfg };
  switch (action) {
    case "start":
      return startGroup(input);
    case "force":
      return forceGroup(input);
    case "done":
      return markGroupDone(input);
    case "rollback":
      return rollbackGroup(input);
  }
}

type Case = {
  action: Action;
  strategy: "halt" | "time";
  /** States of groups a and b; the action targets b. */
  a: GroupState;
  b: GroupState;
  aStart?: number;
  want: GroupState | RegExp;
};

const CASES: Case[] = [
  // start, halt-on-error
  { action: "start", strategy: "halt", a: "done", b: "unstarted", want: "canary" },
  { action: "start", strategy: "halt", a: "done", b: "rolledback", want: "canary" },
  {
    action: "start",
    strategy: "halt",
    a: "active",
    b: "unstarted",
    want: /earlier group a is active, not done/,
  },
  {
    action: "start",
    strategy: "halt",
    a: "rolledback",
    b: "unstarted",
    want: /earlier group a is rolledback/,
  },
  {
    action: "start",
    strategy: "halt",
    a: "done",
    b: "unstarted",
    aStart: NOW - HOUR,
    want: /wait_hours 24 after a started: not before 2024-01-02T11:00:00.000Z/,
  },
  { action: "start", strategy: "halt", a: "done", b: "unstarted", aStart: NOW - 24 * HOUR, want: "canary" },
  { action: "start", strategy: "halt", a: "done", b: "canary", want: /already canary/ },
  { action: "start", strategy: "halt", a: "done", b: "active", want: /already active/ },
  { action: "start", strategy: "halt", a: "done", b: "done", want: /already done/ },
  // start, time-based
  { action: "start", strategy: "time", a: "unstarted", b: "unstarted", want: "active" },
  { action: "start", strategy: "time", a: "unstarted", b: "done", want: "active" },
  { action: "start", strategy: "time", a: "unstarted", b: "rolledback", want: "active" },
  { action: "start", strategy: "time", a: "unstarted", b: "active", want: /already active/ },
  // force
  { action: "force", strategy: "halt", a: "unstarted", b: "unstarted", want: "active" },
  { action: "force", strategy: "halt", a: "active", b: "canary", want: "active" },
  { action: "force", strategy: "halt", a: "rolledback", b: "rolledback", want: "active" },
  { action: "force", strategy: "halt", a: "done", b: "unstarted", aStart: NOW - HOUR, want: "active" },
  { action: "force", strategy: "halt", a: "done", b: "active", want: /already active/ },
  { action: "force", strategy: "halt", a: "done", b: "done", want: /already done/ },
  { action: "force", strategy: "time", a: "done", b: "done", want: "active" },
  { action: "force", strategy: "time", a: "done", b: "active", want: /already active/ },
  // done
  { action: "done", strategy: "halt", a: "done", b: "unstarted", want: "done" },
  { action: "done", strategy: "halt", a: "done", b: "canary", want: "done" },
  { action: "done", strategy: "halt", a: "done", b: "active", want: "done" },
  { action: "done", strategy: "halt", a: "done", b: "rolledback", want: "done" },
  { action: "done", strategy: "halt", a: "done", b: "done", want: /already done/ },
  { action: "done", strategy: "time", a: "done", b: "active", want: "done" },
  // rollback
  { action: "rollback", strategy: "halt", a: "done", b: "canary", want: "rolledback" },
  { action: "rollback", strategy: "halt", a: "done", b: "active", want: "rolledback" },
  { action: "rollback", strategy: "halt", a: "done", b: "done", want: "rolledback" },
  { action: "rollback", strategy: "time", a: "done", b: "done", want: "rolledback" },
  { action: "rollback", strategy: "halt", a: "done", b: "unstarted", want: /has not started/ },
  { action: "rollback", strategy: "halt", a: "done", b: "rolledback", want: /already rolled back/ },
];

describe("operator actions: every allowed and refused transition", () => {
  test.each(
    CASES.map((c) => ({
      ...c,
      label: `${c.action} (${c.strategy}) b ${c.b}${c.aStart ? " soon after a" : ""}, a ${c.a} -> ${typeof c.want === "string" ? c.want : "refused"}`,
    })),
  )("$label", (c) => {
    const cfg = c.strategy === "halt" ? HALT : TIME;
    const before = rollout(
      cfg,
      status("a", c.a, c.aStart ? { startTime: c.aStart } : {}),
      status("b", c.b, { presentCount: 4, canaries: [{ updaterId: "x", hostname: "x", success: true }] }),
    );
    if (typeof c.want === "string") {
      const { rollout: after, event } = act(c.action, cfg, before, "b");
      const b = after.groups[1] as GroupStatus;
      expect(b.state).toBe(c.want);
      expect(b.lastTransition).toBe(NOW);
      expect(event).toMatchObject({ at: NOW, kind: "transition", group: "b", from: c.b, to: c.want });
      expect(after.groups[0]).toBe(before.groups[0] as GroupStatus);
      expect(before.groups[1]?.state).toBe(c.b); // not mutated
    } else {
      let err: unknown;
      try {
        act(c.action, cfg, before, "b");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UpkeepError);
      expect((err as UpkeepError).code).toBe("E_CONFLICT");
      expect((err as UpkeepError).message).toMatch(c.want);
      expect((err as UpkeepError).message).toStartWith(
        `cannot ${c.action === "done" ? "mark done" : c.action === "rollback" ? "roll back" : c.action} group b:`,
      );
    }
  });

  test("start and force set startTime and initialCount; start clears old canaries for the reconciler", () => {
    const before = rollout(
      HALT,
      status("a", "done"),
      status("b", "rolledback", {
        presentCount: 4,
        canaries: [{ updaterId: "x", hostname: "x", success: true }],
      }),
    );
    const s = startGroup({ rollout: before, group: "b", now: NOW, config: HALT }).rollout.groups[1];
    expect(s).toMatchObject({ startTime: NOW, initialCount: 4, canaries: [] });
    const f = forceGroup({ rollout: before, group: "b", now: NOW, config: HALT }).rollout.groups[1];
    expect(f).toMatchObject({ state: "active", startTime: NOW, initialCount: 4 });
  });
  test("start without canaries goes straight to active", () => {
    const r = startGroup({
      rollout: rollout(HALT, status("a", "unstarted"), status("b", "unstarted")),
      group: "a",
      now: NOW,
      config: HALT,
    });
    expect(r.rollout.groups[0]?.state).toBe("active");
  });
  test("force keeps the canaries of a group in its canary phase", () => {
    const canaries = [{ updaterId: "x", hostname: "x", success: false }];
    const r = forceGroup({
      rollout: rollout(HALT, status("a", "done"), status("b", "canary", { canaries })),
      group: "b",
      now: NOW,
      config: HALT,
    });
    expect(r.rollout.groups[1]?.canaries).toEqual(canaries);
  });
  test.each<Action>(["start", "force", "done", "rollback"])(
    "%s on an unknown group: E_NOT_FOUND naming the groups",
    (action) => {
      expect(() =>
        act(action, HALT, rollout(HALT, status("a", "done"), status("b", "active")), "zzz"),
      ).toThrow('no group "zzz" in the rollout (groups: a, b)');
    },
  );
});
