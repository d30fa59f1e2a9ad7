import { describe, expect, test } from "bun:test";
import { HOUR, iso, NOW } from "./_fixtures_test_util.ts";
import { chartGeometry, progressChart } from "./chart.ts";
import { ReportHistory } from "./history.ts";

const groupOf = (g: string) => (g === "canary" ? "canary" : "prod");
const START = NOW - 4 * HOUR;

/** Each host's reports: [hours after START, group, version, state]. */
function history(hosts: [number, string, string, "ok" | "failed"][][]): ReportHistory {
  const h = new ReportHistory();
  hosts.forEach((reports, i) => {
    for (const [at, group, version, state] of reports)
      h.record({ updater_id: `u${i}`, group, version, state }, START + at * HOUR);
  });
  return h;
}

describe("progressChart: hosts on the target per group, at the end of each step", () => {
  const cases: [string, [number, string, string, "ok" | "failed"][][], Record<string, number[]>][] = [
    ["nobody reported", [], { canary: [0, 0, 0, 0], prod: [0, 0, 0, 0] }],
    [
      "a canary at once, prod hosts later",
      [
        [[0, "canary", "1.1.0", "ok"]],
        [
          [0, "prod", "1.0.0", "ok"],
          [2.5, "prod", "1.1.0", "ok"],
        ],
        [
          [0, "", "1.0.0", "ok"],
          [3.5, "", "1.1.0", "ok"],
        ],
      ],
      { canary: [1, 1, 1, 1], prod: [0, 0, 1, 2] },
    ],
    [
      "on the target but failed does not count; leaving the target counts down",
      [
        [
          [0.5, "prod", "1.1.0", "ok"],
          [1.5, "prod", "1.1.0", "failed"],
        ],
        [
          [0.5, "prod", "1.1.0", "ok"],
          [2.5, "prod", "1.0.0", "ok"],
        ],
      ],
      { canary: [0, 0, 0, 0], prod: [2, 1, 0, 0] },
    ],
    [
      "a host that moves group moves its count",
      [
        [
          [0.5, "canary", "1.1.0", "ok"],
          [1.5, "prod", "1.1.0", "ok"],
        ],
      ],
      { canary: [1, 0, 0, 0], prod: [0, 1, 1, 1] },
    ],
    [
      "reports before the rollout began count from the start",
      [[[-3, "prod", "1.1.0", "ok"]]],
      { canary: [0, 0, 0, 0], prod: [1, 1, 1, 1] },
    ],
  ];
  for (const [name, hosts, want] of cases)
    test(name, () => {
      const m = progressChart({
        history: history(hosts).hosts(),
        target: "1.1.0",
        groups: ["canary", "prod"],
        groupOf,
        from: START,
        now: NOW,
        events: [],
        buckets: 4,
      });
      expect(Object.fromEntries(m.series.map((s) => [s.group, s.points]))).toEqual(want);
      expect(m.series.map((s) => s.last)).toEqual(Object.values(want).map((p) => p.at(-1) ?? -1));
    });

  test("no target (no rollout): nothing counts; events in the range become marks", () => {
    const events = [
      { time: iso(START - HOUR), group: "prod", from: "", to: "", reason: "before" },
      {
        time: iso(START + HOUR),
        group: "canary",
        from: "unstarted",
        to: "active",
        reason: "group canary: go",
      },
      { time: iso(START + 2 * HOUR), group: "", from: "", to: "", reason: "new rollout" },
    ];
    const h = history([[[1, "prod", "1.1.0", "ok"]]]);
    const m = progressChart({
      history: h.hosts(),
      target: null,
      groups: ["prod"],
      groupOf,
      from: START,
      now: NOW,
      events,
      buckets: 4,
    });
    expect(m.series).toEqual([{ group: "prod", points: [0, 0, 0, 0], last: 0 }]);
    expect(m.marks).toEqual([{ at: START + HOUR, group: "canary", text: "group canary: go" }]);
    expect(m.max).toBe(1);
  });

  test("without a start, the time axis starts at the oldest report (at least an hour back)", () => {
    const h = history([[[-10, "prod", "1.1.0", "ok"]]]);
    const m = progressChart({
      history: h.hosts(),
      target: "1.1.0",
      groups: ["prod"],
      groupOf,
      from: null,
      now: NOW,
      events: [],
    });
    expect(m.from).toBe(START - 10 * HOUR);
    expect(
      progressChart({ history: [], target: "1.1.0", groups: [], groupOf, from: null, now: NOW, events: [] })
        .from,
    ).toBe(NOW - HOUR);
  });
});

test("chartGeometry: points inside the plot, y from the max, marks at their time", () => {
  const m = {
    from: 0,
    to: 100,
    max: 4,
    series: [{ group: "prod", points: [0, 2, 4], last: 4 }],
    marks: [{ at: 50, group: "prod", text: "x" }],
  };
  const g = chartGeometry(m, 236, 128);
  expect([g.left, g.top, g.right, g.bottom]).toEqual([36, 8, 228, 108]);
  expect(g.lines[0]?.points).toBe("36,108 132,58 228,8");
  expect([g.lines[0]?.x, g.lines[0]?.y]).toEqual([228, 8]);
  expect(g.marks.map((k) => k.x)).toEqual([132]);
  expect(g.yTicks).toEqual([
    { y: 108, value: 0 },
    { y: 58, value: 2 },
    { y: 8, value: 4 },
  ]);
});
