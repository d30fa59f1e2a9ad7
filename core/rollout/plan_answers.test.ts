import { describe, expect, test } from "bun:test";
import { parseAutoupdateVersion } from "../resources/parse_autoupdate_version.ts";
import { config, HOUR, MON, START, TARGET, version } from "./_fixtures_test_util.ts";
import { planAnswers } from "./plan_answers.ts";

// "a" every day at 09:00, "b" every day at 20:00 (halt-on-error, no canaries).
const TWO = config(
  {
    schedules: {
      regular: [
        { name: "a", days: ["*"], start_hour: 9 },
        { name: "b", days: ["*"], start_hour: 20 },
      ],
    },
  },
  { mode: "enabled" },
);
const IN_A = MON + 9 * HOUR + 5 * 60_000;
const OUTSIDE = MON + 12 * HOUR;

describe("planAnswers", () => {
  test("without server_version: the rollout's versions as given, no cap, no raise", () => {
    const p = planAnswers({
      config: TWO,
      version: version({ start_version: "1.0.0", target_version: "1.1.0" }, { target_version: "1.1.0" }),
      serverVersion: undefined,
      published: ["1.0.0", "1.1.0"],
      agents: [{ updaterId: "u1", hostname: "h1", group: "a", version: "1.0.0", healthy: true }],
      now: IN_A,
    });
    expect(p.groups.map((g) => [g.group, g.state, g.version, g.update, g.adjusted])).toEqual([
      ["a", "active", "1.1.0", true, null],
      ["b", "unstarted", "1.0.0", false, null],
    ]);
    expect(p.tools).toMatchObject({ version: "1.1.0", update: true, adjusted: null });
    expect(p.unpublished).toEqual([]);
    expect(p.events[0]?.message).toContain("new rollout 1.0.0 -> 1.1.0");
    expect(p.groups[1]?.stateReason).toContain("waiting for earlier group a");
    expect(p.groups[1]?.nextWindowOpen).toBe("2024-01-01T20:00:00.000Z");
  });

  test("with server_version: a target above it is capped, one too old raised, each shown", () => {
    const p = planAnswers({
      config: TWO,
      version: version({ start_version: "14.0.0", target_version: "18.0.0" }, { target_version: "18.0.0" }),
      serverVersion: "17.0.1",
      published: undefined,
      now: IN_A,
    });
    expect(p.groups[0]).toMatchObject({
      version: "17.0.1",
      update: true,
      adjusted: { kind: "capped", from: "18.0.0", to: "17.0.1" },
    });
    expect(p.groups[0]?.why).toContain("capped at the server version");
    expect(p.groups[1]).toMatchObject({
      version: "17.0.1",
      update: false,
      adjusted: { kind: "raised", from: "14.0.0", to: "17.0.1" },
    });
    expect(p.tools).toMatchObject({ version: "17.0.1", adjusted: { kind: "capped", from: "18.0.0" } });
    // No manifest: nothing is checked.
    expect(p.unpublished).toEqual([]);
    expect(p.versions.map((v) => v.version)).toEqual(["17.0.1"]);
    expect(p.versions[0]?.uses).toEqual([
      "spec.agents.start_version 14.0.0 raised to 17.0.1 (server_version)",
      "spec.agents.target_version 18.0.0 capped to 17.0.1 (server_version)",
      "spec.tools.target_version 18.0.0 capped to 17.0.1 (server_version)",
    ]);
  });

  test("versions missing from the published manifest are listed, with the published ones sorted", () => {
    const p = planAnswers({
      config: TWO,
      version: version({}, { target_version: "9.9.9" }),
      serverVersion: undefined,
      published: [TARGET, "v16.0.0", START, "not-a-version"],
      now: OUTSIDE,
    });
    expect(p.unpublished).toEqual([
      { version: "9.9.9", uses: ["spec.tools.target_version"], published: false },
    ]);
    expect(p.published).toEqual(["16.0.0", START, TARGET]);
    // Outside every window: nobody moves, and the plan says when each window opens.
    expect(p.groups.map((g) => [g.state, g.version, g.update])).toEqual([
      ["unstarted", START, false],
      ["unstarted", START, false],
    ]);
    expect(p.groups[0]?.stateReason).toBe("waiting for its window: next opens 2024-01-02T09:00:00.000Z");
  });

  test("no version policy: every answer names no version and says do not update", () => {
    for (const v of [undefined, parseAutoupdateVersion({ kind: "autoupdate_version", spec: {} })]) {
      const p = planAnswers({ config: TWO, version: v, serverVersion: undefined, published: [], now: IN_A });
      expect(p.rollout).toBeUndefined();
      expect(p.groups.every((g) => g.version === "" && !g.update)).toBe(true);
      expect(p.groups[0]?.why).toContain("no version policy yet");
      expect(p.tools).toMatchObject({ version: "", update: false });
      expect(p.versions).toEqual([]);
    }
  });

  test("canaries get their own answer; a critical target starts outside the window", () => {
    const CANARY = config({
      schedules: { regular: [{ name: "a", days: ["*"], start_hour: 9, canary_count: 1 }] },
    });
    const p = planAnswers({
      config: CANARY,
      version: version(),
      serverVersion: undefined,
      published: undefined,
      agents: [{ updaterId: "u1", hostname: "h1", version: START, healthy: true }],
      critical: [TARGET],
      now: OUTSIDE,
    });
    expect(p.groups[0]).toMatchObject({ state: "canary", version: START, update: false });
    expect(p.groups[0]?.canary).toMatchObject({ version: TARGET, update: true });
  });
});
