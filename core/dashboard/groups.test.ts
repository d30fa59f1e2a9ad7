import { describe, expect, test } from "bun:test";
import { agent, config, group, HOUR, iso, NOW, view } from "./_fixtures_test_util.ts";
import { fleetStats } from "./fleet.ts";
import { groupRows } from "./groups.ts";

const cfg = config([
  { name: "canary", days: ["*"], start_hour: 8, canary_count: 1 },
  { name: "staging", days: ["Tue", "Mon"], start_hour: 14, wait_hours: 4 },
  { name: "prod", days: ["Wed"], start_hour: 9, wait_hours: 2 },
]);
const none = fleetStats([], []);

describe("groupRows", () => {
  // The present hosts as the server counts them, by kind: prod has two kinds on 1.1.0 (ok and failed).
  const counts = new Map([
    ["canary", [{ version: "1.1.0", count: 1 }]],
    [
      "prod",
      [
        { version: "1.1.0", count: 1 },
        { version: "1.0.0", count: 2 },
        { version: "1.1.0", count: 1 },
        { version: "0.9.0", count: 0 },
      ],
    ],
    ["staging", []],
  ]);
  const canaries = [agent("c1", { group: "canary", version: "1.1.0", hostname: "canary-1" })];
  const v = view([
    group("canary", {
      state: "active",
      start_time: iso(NOW - HOUR),
      canaries: [
        { updater_id: "c1", hostname: "canary-1", success: true },
        { updater_id: "c2", hostname: "canary-2", success: false },
      ],
      present_count: 1,
      up_to_date_count: 1,
      initial_count: 1,
    }),
    group("staging", { state: "unstarted", reason: "waiting until ..." }),
    group("prod", {
      state: "rolledback",
      present_count: 4,
      up_to_date_count: 1,
      failed_count: 1,
      initial_count: 4,
    }),
  ]);
  const rows = groupRows(v, cfg, fleetStats(counts, canaries), NOW);
  const [canary, staging, prod] = rows;

  test("state in words, progress with the rest counted as other", () => {
    expect(rows.map((r) => r.stateWords)).toEqual(["updating", "not started", "rolled back"]);
    expect(prod?.progress).toEqual({ present: 4, upToDate: 1, failed: 1, other: 2, initial: 4, percent: 25 });
    expect(staging?.progress.percent).toBe(0);
  });

  test("window: days in week order, the hour in UTC, open now or not, the next opening", () => {
    expect(canary?.window).toEqual({
      text: "every day at 08:00 UTC",
      open: true,
      nextOpen: "2026-11-24T08:00:00.000Z",
      nextOpenIn: "in 23h 30m",
    });
    expect(staging?.window.text).toBe("Mon, Tue at 14:00 UTC");
    expect([staging?.window.open, staging?.window.nextOpen]).toEqual([false, "2026-11-23T14:00:00.000Z"]);
    expect(prod?.window.nextOpenIn).toBe("in 2d");
  });

  test("wait_hours: a countdown from the previous group's start; none before it started", () => {
    expect(canary?.wait).toBeNull();
    expect(staging?.wait).toEqual({ hours: 4, after: "canary", until: iso(NOW + 3 * HOUR), remaining: "3h" });
    expect(prod?.wait).toEqual({ hours: 2, after: "staging", until: null, remaining: null });
  });

  test("canaries with their own reports; the version histogram of present hosts, newest first", () => {
    expect(canary?.canaries).toEqual([
      { updaterId: "c1", hostname: "canary-1", version: "1.1.0", healthy: true, success: true },
      { updaterId: "c2", hostname: "canary-2", version: null, healthy: false, success: false },
    ]);
    expect(prod?.histogram).toEqual([
      { version: "1.1.0", count: 2, target: true },
      { version: "1.0.0", count: 2, target: false },
    ]);
    expect(staging?.histogram).toEqual([]);
  });

  test("what holds later groups back (halt-on-error): not done waits, rolled back halts", () => {
    expect(rows.map((r) => r.blocks)).toEqual([
      "2 later groups wait for it: staging, prod",
      "1 later group waits for it: prod",
      null,
    ]);
    const halted = groupRows(
      view([group("a", { state: "rolledback" }), group("b"), group("c", { state: "done" })]),
      config([
        { name: "a", start_hour: 1 },
        { name: "b", start_hour: 1 },
        { name: "c", start_hour: 1 },
      ]),
      none,
      NOW,
    );
    expect(halted.map((r) => r.blocks)).toEqual([
      "halts later groups: b, c",
      "1 later group waits for it: c",
      null,
    ]);
    const timeBased = groupRows(v, cfg, none, NOW);
    expect(groupRows({ ...v, strategy: "time-based" }, cfg, none, NOW).map((r) => r.blocks)).toEqual([
      null,
      null,
      null,
    ]);
    expect(timeBased[0]?.blocks).not.toBeNull();
  });

  test("schedule immediate: windows do not apply; a group the config no longer has says so", () => {
    const imm = groupRows({ ...v, schedule: "immediate" }, cfg, none, NOW);
    expect(imm[0]?.window).toEqual({
      text: "schedule immediate: windows do not apply",
      open: true,
      nextOpen: null,
      nextOpenIn: null,
    });
    expect(imm.map((r) => r.blocks)).toEqual([null, null, null]);
    const gone = groupRows(view([group("old")]), cfg, none, NOW);
    expect(gone[0]?.window.text).toBe("not in autoupdate_config");
  });

  test("time-based windows say how long they stay open", () => {
    const tb = config([{ name: "prod", days: ["*"], start_hour: 9 }], "time-based");
    expect(groupRows(view([group("prod")], { strategy: "time-based" }), tb, none, NOW)[0]?.window.text).toBe(
      "every day at 09:00 UTC for 60 min",
    );
  });
});
