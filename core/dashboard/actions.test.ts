import { expect, test } from "bun:test";
import { GROUP_ACTIONS } from "../wire/views.ts";
import { group, view } from "./_fixtures_test_util.ts";
import {
  confirmCritical,
  confirmGroupAction,
  criticalResult,
  GROUP_ACTION_WORDS,
  groupActionResult,
} from "./actions.ts";
import { plural, relative, shortTime, span } from "./format.ts";

test("each group action's confirmation names the CLI command and says what it does", () => {
  expect(GROUP_ACTIONS.map((a) => confirmGroupAction("prod", a).text)).toEqual([
    "upkeep admin rollout start prod: start a group now (order and wait_hours still hold; canaries first if configured).",
    "upkeep admin rollout force prod: make a group active now, skipping its window, order, wait and canaries.",
    "upkeep admin rollout done prod: mark a group done (e.g. to let a halt-on-error rollout go past it).",
    "upkeep admin rollout rollback prod: serve the group start_version again, with agent_auto_update true.",
  ]);
  expect(confirmGroupAction("prod", "rollback").title).toBe("Roll back group prod?");
  expect(Object.keys(GROUP_ACTION_WORDS)).toEqual([...GROUP_ACTIONS]);
  expect(confirmCritical("1.1.0", true).text).toBe(
    "upkeep admin release critical 1.1.0: flag a release critical: agents apply it outside their maintenance windows.",
  );
  expect(confirmCritical("1.1.0", false).text).toBe(
    "upkeep admin release critical 1.1.0 --off: remove the flag (a manifest's own critical flag stays).",
  );
});

test("the result is the line the CLI prints", () => {
  const v = view([group("prod", { state: "active", reason: "started by an operator" })]);
  expect(groupActionResult(v, "prod", "start")).toBe("group prod: active (started by an operator)");
  expect(groupActionResult(v, "gone", "done")).toBe("group gone: done accepted");
  expect([criticalResult([]), criticalResult(["1.1.0", "1.2.0"])]).toEqual([
    "critical releases: none",
    "critical releases: 1.1.0, 1.2.0",
  ]);
});

test("spans and times in words", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [59_999, "59s"],
    [60_000, "1m"],
    [3_600_000, "1h"],
    [3_660_000, "1h 1m"],
    [86_400_000, "1d"],
    [90_000_000, "1d 1h"],
    [-120_000, "2m"],
  ];
  expect(cases.map(([ms]) => span(ms))).toEqual(cases.map(([, s]) => s));
  expect([
    relative(1_000_000, 1_000_500),
    relative(1_120_000, 1_000_000),
    relative(1_000_000, 1_120_000),
  ]).toEqual(["now", "in 2m", "2m ago"]);
  expect([relative("not a time", 0), shortTime("2026-11-23T08:30:12.345Z"), shortTime("bad")]).toEqual([
    "",
    "2026-11-23 08:30 UTC",
    "bad",
  ]);
  expect([plural(1, "host"), plural(2, "host"), plural(2, "canary", "canaries")]).toEqual([
    "1 host",
    "2 hosts",
    "2 canaries",
  ]);
});
