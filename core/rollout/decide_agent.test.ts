import { describe, expect, test } from "bun:test";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { config, HOUR, MON, SERVER, START, status, TARGET, version } from "./_fixtures_test_util.ts";
import { decideAgent, decideTools, effectiveAgentMode, type GroupState, resolveGroup } from "./mod.ts";

// One group "g", every day, window at 09:00 UTC; time-based windows last 60 minutes.
const HALT = config({
  strategy: "halt-on-error",
  schedules: { regular: [{ name: "g", days: ["*"], start_hour: 9 }] },
});
const TIME = config({
  strategy: "time-based",
  schedules: { regular: [{ name: "g", days: ["*"], start_hour: 9 }] },
});
const IN_WINDOW = MON + 9 * HOUR + 30 * 60_000;
const OUT_OF_WINDOW = MON + 12 * HOUR;

type Row = {
  name: string;
  config: AutoupdateConfig;
  state: GroupState;
  canary?: boolean;
  now?: number;
  critical?: boolean;
  want: [string, boolean];
};

// DESIGN §3, row by row, for both strategies where the row applies to both.
const MATRIX: Row[] = [
  { name: "halt-on-error unstarted", config: HALT, state: "unstarted", want: [START, false] },
  { name: "time-based unstarted", config: TIME, state: "unstarted", want: [START, false] },
  {
    name: "unstarted, even inside its window",
    config: HALT,
    state: "unstarted",
    now: IN_WINDOW,
    want: [START, false],
  },
  { name: "canary: a canary", config: HALT, state: "canary", canary: true, want: [TARGET, true] },
  { name: "canary: not a canary", config: HALT, state: "canary", canary: false, want: [START, false] },
  { name: "halt-on-error active", config: HALT, state: "active", want: [TARGET, true] },
  { name: "time-based active", config: TIME, state: "active", want: [TARGET, true] },
  { name: "halt-on-error done", config: HALT, state: "done", want: [TARGET, true] },
  {
    name: "halt-on-error done outside a window",
    config: HALT,
    state: "done",
    now: OUT_OF_WINDOW,
    want: [TARGET, true],
  },
  {
    name: "time-based done inside its window",
    config: TIME,
    state: "done",
    now: IN_WINDOW,
    want: [TARGET, true],
  },
  {
    name: "time-based done outside its window",
    config: TIME,
    state: "done",
    now: OUT_OF_WINDOW,
    want: [TARGET, false],
  },
  {
    name: "time-based done outside, critical",
    config: TIME,
    state: "done",
    now: OUT_OF_WINDOW,
    critical: true,
    want: [TARGET, true],
  },
  { name: "halt-on-error rolledback", config: HALT, state: "rolledback", want: [START, true] },
  { name: "time-based rolledback", config: TIME, state: "rolledback", want: [START, true] },
];

describe("decideAgent: the DESIGN §3 matrix", () => {
  test.each(MATRIX)("$name", (row) => {
    const d = decideAgent({
      config: row.config,
      version: version(),
      groups: [status("g", row.state, { canaries: [{ updaterId: "c1", hostname: "h1", success: false }] })],
      serverVersion: SERVER,
      agentGroup: "g",
      updaterId: row.canary ? "c1" : "other",
      now: row.now ?? OUT_OF_WINDOW,
      critical: row.critical,
    });
    expect([d.agent_version, d.agent_auto_update]).toEqual(row.want);
    expect(d.group).toBe("g");
    expect(d.group_state).toBe(row.state);
    expect(d.capped).toBe(false);
    expect(d.mode).toBe("enabled");
    expect(d.reason).toContain(row.state);
  });

  test("the reason for a closed time-based window names the next opening", () => {
    const d = decideAgent({
      config: TIME,
      version: version(),
      groups: [status("g", "done")],
      serverVersion: SERVER,
      agentGroup: "g",
      now: OUT_OF_WINDOW,
    });
    expect(d.reason).toContain("next window opens 2024-01-02T09:00:00.000Z");
    expect(d.reason).toStartWith("group g is done: outside its window");
  });
});

describe("decideAgent: schedule, modes, groups, cap", () => {
  const base = { config: HALT, serverVersion: SERVER, agentGroup: "g", now: OUT_OF_WINDOW };
  const states: GroupState[] = ["unstarted", "canary", "active", "done"];

  test.each(states)("schedule immediate: %s -> target, true", (state) => {
    const d = decideAgent({
      ...base,
      version: version({ schedule: "immediate" }),
      groups: [status("g", state)],
    });
    expect([d.agent_version, d.agent_auto_update]).toEqual([TARGET, true]);
    expect(d.reason).toContain("schedule immediate");
  });
  test("schedule immediate does not override an operator rollback", () => {
    const d = decideAgent({
      ...base,
      version: version({ schedule: "immediate" }),
      groups: [status("g", "rolledback")],
    });
    expect([d.agent_version, d.agent_auto_update]).toEqual([START, true]);
  });

  // Teleport's getVersionFromRollout: disabled answers the target version to every group.
  test.each<[GroupState, string]>([
    ["unstarted", TARGET],
    ["canary", TARGET],
    ["active", TARGET],
    ["done", TARGET],
    ["rolledback", TARGET],
  ])("mode disabled: %s -> the target version, no update", (state, want) => {
    const d = decideAgent({ ...base, version: version({ mode: "disabled" }), groups: [status("g", state)] });
    expect([d.agent_version, d.agent_auto_update]).toEqual([want, false]);
    expect(d.mode).toBe("disabled");
    expect(d.reason).toContain("disabled");
  });
  test.each<[GroupState, string, boolean]>([
    ["unstarted", START, false],
    ["active", TARGET, false],
    ["done", TARGET, false],
    // Teleport's getTriggerFromRollout: suspended never says update, a rolled-back group included.
    ["rolledback", START, false],
  ])("mode suspended: %s -> %s, %p", (state, want, auto) => {
    const d = decideAgent({ ...base, version: version({ mode: "suspended" }), groups: [status("g", state)] });
    expect([d.agent_version, d.agent_auto_update]).toEqual([want, auto]);
    expect(d.mode).toBe("suspended");
  });
  test("disabled in the config wins over enabled in the version", () => {
    const c = config({ mode: "disabled", schedules: { regular: [{ name: "g", start_hour: 9 }] } });
    const d = decideAgent({ ...base, config: c, version: version(), groups: [status("g", "active")] });
    expect(d.agent_auto_update).toBe(false);
  });
  test("disabled overrides schedule immediate", () => {
    const d = decideAgent({
      ...base,
      version: version({ schedule: "immediate", mode: "disabled" }),
      groups: [],
    });
    expect(d.agent_auto_update).toBe(false);
  });

  const TWO = config({
    schedules: {
      regular: [
        { name: "a", start_hour: 1 },
        { name: "b", start_hour: 2 },
      ],
    },
  });
  test.each([[undefined], [""], ["nope"]])("agent group %p is placed in the last group", (agentGroup) => {
    const d = decideAgent({
      ...base,
      config: TWO,
      version: version(),
      groups: [status("a", "active"), status("b", "unstarted")],
      agentGroup,
    });
    expect(d.group).toBe("b");
    expect([d.agent_version, d.agent_auto_update]).toEqual([START, false]);
    expect(d.reason).toContain("placed in the last group b, which is unstarted");
  });
  test("a group without a status yet counts as unstarted", () => {
    const d = decideAgent({ ...base, config: TWO, version: version(), groups: [], agentGroup: "a" });
    expect(d.group_state).toBe("unstarted");
  });
  test("an empty updater id is never a canary", () => {
    const d = decideAgent({
      ...base,
      version: version(),
      groups: [status("g", "canary", { canaries: [{ updaterId: "", hostname: "", success: false }] })],
      updaterId: "",
    });
    expect(d.canary).toBe(false);
  });

  test("the target is capped at the server version, and the reason says so", () => {
    const d = decideAgent({
      ...base,
      version: version({ target_version: "18.0.0" }),
      groups: [status("g", "active")],
    });
    expect(d.agent_version).toBe(SERVER);
    expect(d.capped).toBe(true);
    expect(d.reason).toContain("capped at the server version");
  });
  test("a start version too old for the server is raised to it", () => {
    const d = decideAgent({
      ...base,
      version: version({ start_version: "14.0.0" }),
      groups: [status("g", "unstarted")],
    });
    expect(d.agent_version).toBe(SERVER);
    expect(d.capped).toBe(true);
  });
  test("no agent versions (no policy yet): no version, no update, whatever the server version", () => {
    for (const v of [undefined, { ...version(), spec: {} } as AutoupdateVersion]) {
      const d = decideAgent({ ...base, version: v, groups: [status("g", "active")] });
      expect([d.agent_version, d.agent_auto_update]).toEqual(["", false]);
      expect(d.reason).toContain("no version policy yet");
    }
  });
  test("without a server version: no cap and no raise, the rollout's versions as given", () => {
    const v = version({ start_version: "14.0.0", target_version: "18.0.0" });
    for (const [state, want] of [
      ["active", "18.0.0"],
      ["unstarted", "14.0.0"],
    ] as const) {
      const d = decideAgent({ ...base, serverVersion: undefined, version: v, groups: [status("g", state)] });
      expect(d.agent_version).toBe(want);
      expect(d.capped).toBe(false);
      expect(d.adjusted).toBeNull();
      expect(d.reason).not.toContain("server");
    }
  });
  test("with a server version every cap or raise is described (kind, from, to, why)", () => {
    const v = version({ start_version: "14.0.0", target_version: "18.0.0" });
    const up = decideAgent({ ...base, version: v, groups: [status("g", "active")] });
    expect(up.adjusted).toEqual({
      kind: "capped",
      from: "18.0.0",
      to: SERVER,
      why: expect.stringContaining("capped at the server version") as unknown as string,
    });
    const down = decideAgent({ ...base, version: v, groups: [status("g", "unstarted")] });
    expect(down.adjusted).toMatchObject({ kind: "raised", from: "14.0.0", to: SERVER });
    expect(decideAgent({ ...base, version: version(), groups: [status("g", "active")] }).adjusted).toBeNull();
  });
  test("a bad server version throws (the server then answers: do not update)", () => {
    expect(() => decideAgent({ ...base, version: version(), groups: [], serverVersion: "x" })).toThrow();
  });
});

describe("effectiveAgentMode / resolveGroup", () => {
  test.each([
    ["enabled", "enabled", "enabled"],
    ["enabled", "suspended", "suspended"],
    ["suspended", "enabled", "suspended"],
    ["suspended", "disabled", "disabled"],
    ["disabled", "suspended", "disabled"],
    ["disabled", "enabled", "disabled"],
  ])("config %s + version %s -> %s", (a, b, want) => {
    expect(effectiveAgentMode(config({ mode: a }), version({ mode: b }))).toBe(want as never);
  });
  test("no version resource does not restrict", () => {
    expect(effectiveAgentMode(config({}), undefined)).toBe("enabled");
  });
  test("resolveGroup", () => {
    const c = config({
      schedules: {
        regular: [
          { name: "a", start_hour: 1 },
          { name: "b", start_hour: 2 },
        ],
      },
    });
    expect(resolveGroup(c, "a").name).toBe("a");
    expect(resolveGroup(c, "A").name).toBe("b");
  });
});

/** spec.tools of an autoupdate_config that turns client tools updates on. */
const ON = { mode: "enabled" };

describe("decideTools", () => {
  test.each<
    [
      string,
      Record<string, unknown> | undefined,
      string | undefined,
      string | undefined,
      [string, boolean],
      RegExp,
    ]
  >([
    [
      "no server version: the target as given, even a newer major",
      ON,
      "18.0.0",
      undefined,
      ["18.0.0", true],
      /tools target/,
    ],
    [
      "no server version and no target: no version, no update",
      undefined,
      undefined,
      undefined,
      ["", false],
      /no tools version yet/,
    ],
    ["the tools target", ON, "17.0.1", "17.0.1", ["17.0.1", true], /tools target/],
    ["no target: the server version", ON, undefined, "17.0.1", ["17.0.1", true], /no tools target/],
    ["tools disabled", { mode: "disabled" }, "17.0.1", "17.0.1", ["17.0.1", false], /disabled/],
    // Teleport's default (getToolsAutoUpdate): no spec.tools, or no mode in it, is no update.
    ["no spec.tools: the target, no update", undefined, "17.0.1", "17.0.1", ["17.0.1", false], /disabled/],
    ["spec.tools without a mode: no update", {}, "17.0.1", "17.0.1", ["17.0.1", false], /disabled/],
    ["a newer minor of the server's major is fine", ON, "17.2.0", "17.0.1", ["17.2.0", true], /tools target/],
    ["an older supported major is fine", ON, "16.4.0", "17.0.1", ["16.4.0", true], /tools target/],
    ["a newer major is never chosen", ON, "18.0.0", "17.0.1", ["17.0.1", true], /not served/],
    ["a too-old major is not served", ON, "15.0.0", "17.0.1", ["17.0.1", true], /not served/],
  ])("%s", (_name, tools, target, server, want, reason) => {
    const c = config({}, tools);
    const v = target === undefined ? version() : version({}, { target_version: target });
    const d = decideTools({ config: c, version: v, serverVersion: server });
    expect([d.tools_version, d.tools_auto_update]).toEqual(want);
    expect(d.reason).toMatch(reason);
  });
  test("no autoupdate_version at all: the server version is named, but no update (safe by default)", () => {
    const d = decideTools({ config: config({}), version: undefined, serverVersion: "17.0.1" });
    expect([d.tools_version, d.tools_auto_update]).toEqual(["17.0.1", false]);
    expect(d.reason).toContain("no version policy yet");
  });
});
