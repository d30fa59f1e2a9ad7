/** The self-update decisions (issue 16): whether to update the updater, and what a start does about a trial. */
import { describe, expect, test } from "bun:test";
import {
  decideSelfUpdate,
  emptySelfState,
  formatSelfState,
  heartbeat,
  parseSelfState,
  planSelfStart,
  type SelfDecideInput,
  type SelfDecision,
  type SelfState,
  TRIAL_MS,
} from "./self_update.ts";

const base: SelfDecideInput = {
  running: "1.0.0",
  wanted: "1.1.0",
  spec: { enabled: true, pinned: false, selfUpdate: true },
  state: { skip: [] },
  current: "1.0.0",
};

describe("decideSelfUpdate: the server's jitter", () => {
  const jitter = { seconds: 600, random: 0.5 };
  test("an install waits its share of the jitter", () => {
    expect(decideSelfUpdate({ ...base, jitter })).toMatchObject({ action: "install", waitMs: 300_000 });
  });
  test("no jitter from the server: at once", () => {
    expect(decideSelfUpdate({ ...base, jitter: { seconds: 0, random: 0.5 } })).toMatchObject({ waitMs: 0 });
  });
  test("a pinned agent waits the same", () => {
    const pinned = { enabled: true, pinned: true, selfUpdate: true };
    expect(decideSelfUpdate({ ...base, spec: pinned, jitter })).toMatchObject({ waitMs: 300_000 });
  });
  test("a hand-over to what another loop switched does not wait", () => {
    expect(decideSelfUpdate({ ...base, current: "1.1.0", jitter })).toEqual({
      action: "handover",
      target: "1.1.0",
      reason: "the updater 1.1.0 is installed: handing over to it",
    });
  });
});

describe("decideSelfUpdate", () => {
  const cases: [string, Partial<SelfDecideInput>, SelfDecision["action"], RegExp][] = [
    ["the server wants a newer updater", {}, "install", /names updater 1\.1\.0/],
    ["the server wants an older one (the admin set it)", { wanted: "0.9.0" }, "install", /going back/],
    ["a leading v is accepted", { wanted: "v1.1.0" }, "install", /1\.1\.0/],
    ["up to date", { wanted: "1.0.0" }, "none", /up to date on 1\.0\.0/],
    ["the server names none (older server)", { wanted: undefined }, "none", /names no updater/],
    ["the server names none (empty)", { wanted: "" }, "none", /names no updater/],
    ["the server turned it off", { wanted: "off" }, "none", /names no updater/],
    ["not a version", { wanted: "latest" }, "none", /not a version/],
    [
      "--no-self-update",
      { spec: { enabled: true, pinned: false, selfUpdate: false } },
      "none",
      /self-update is off/,
    ],
    [
      "agent disable stops it too",
      { spec: { enabled: false, pinned: false, selfUpdate: true } },
      "none",
      /disabled/,
    ],
    [
      "a pinned agent still self-updates",
      { spec: { enabled: true, pinned: true, selfUpdate: true } },
      "install",
      /1\.1\.0/,
    ],
    ["a version that failed here is skipped", { state: { skip: ["1.1.0"] } }, "none", /skipped/],
    [
      "another loop switched current already: only hand over (even when skipped meanwhile)",
      { current: "1.1.0", state: { skip: [] } },
      "handover",
      /installed: handing over/,
    ],
    [
      "another version on trial: wait for its verdict",
      {
        wanted: "1.2.0",
        current: "1.1.0",
        state: { skip: [], updating: { from: "1.0.0", to: "1.1.0", started: "", starts: {} } },
      },
      "none",
      /on trial/,
    ],
  ];
  for (const [name, over, action, reason] of cases)
    test(name, () => {
      const d = decideSelfUpdate({ ...base, ...over });
      expect(d.action).toBe(action);
      expect(d.reason).toMatch(reason);
    });
});

const T0 = new Date("2026-12-01T10:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const onTrial = (starts: Record<string, number> = {}): SelfState => ({
  ...emptySelfState(),
  active: "1.0.0",
  updating: { from: "1.0.0", to: "1.1.0", started: T0.toISOString(), starts },
});

describe("planSelfStart", () => {
  test("no intent: nothing", () => {
    expect(
      planSelfStart({
        state: emptySelfState(),
        running: "1.0.0",
        namespace: "default",
        current: "1.0.0",
        now: T0,
      }),
    ).toEqual({ action: "none" });
  });
  test("the hand-over's start: on trial, the start counted, the rest of the 60 s", () => {
    const p = planSelfStart({
      state: onTrial(),
      running: "1.1.0",
      namespace: "default",
      current: "1.1.0",
      now: at(5000),
    });
    expect(p.action).toBe("trial");
    if (p.action !== "trial") return;
    expect(p.remainingMs).toBe(TRIAL_MS - 5000);
    expect(p.state.updating?.starts).toEqual({ default: 1 });
  });
  test("another namespace's loop joining the trial is its first start there", () => {
    const p = planSelfStart({
      state: onTrial({ default: 1 }),
      running: "1.1.0",
      namespace: "edge",
      current: "1.1.0",
      now: at(1000),
    });
    expect(p.action).toBe("trial");
  });
  const fails: [string, { starts?: Record<string, number>; running?: string; ms?: number }, RegExp][] = [
    [
      "a second start without a heartbeat (exited at start, crash loop)",
      { starts: { default: 1 } },
      /started again/,
    ],
    ["no pass within 60 s", { ms: TRIAL_MS + 1 }, /within 60s/],
    [
      "the previous executable started while current points at the new one",
      { running: "1.0.0" },
      /did not come back/,
    ],
  ];
  for (const [name, o, reason] of fails)
    test(`restored: ${name}`, () => {
      const p = planSelfStart({
        state: onTrial(o.starts),
        running: o.running ?? "1.1.0",
        namespace: "default",
        current: "1.1.0",
        now: at(o.ms ?? 1000),
      });
      expect(p.action).toBe("restore");
      if (p.action !== "restore") return;
      expect(p.reason).toMatch(reason);
      expect(p).toMatchObject({ to: "1.0.0", failed: "1.1.0" });
      expect(p.state.updating).toBeUndefined();
      expect(p.state.skip).toEqual(["1.1.0"]);
      expect(p.state.failed?.version).toBe("1.1.0");
      expect(p.state.active).toBe("1.0.0");
    });
  for (const [running, current] of [
    ["1.1.0", "1.1.0"],
    ["1.0.0", "1.0.0"],
  ] as const)
    test(`a restore cut short is finished whichever updater starts (${running}, current ${current})`, () => {
      const s = onTrial({ default: 1 });
      s.updating = { ...(s.updating as NonNullable<SelfState["updating"]>), restoring: "it hangs" };
      const p = planSelfStart({ state: s, running, namespace: "default", current, now: at(1000) });
      expect(p).toMatchObject({ action: "restore", to: "1.0.0", failed: "1.1.0", reason: "it hangs" });
    });
  test("killed between the intent and the switch: undone, nothing skipped", () => {
    const p = planSelfStart({
      state: onTrial(),
      running: "1.0.0",
      namespace: "default",
      current: "1.0.0",
      now: at(1000),
    });
    expect(p.action).toBe("undo");
    if (p.action !== "undo") return;
    expect(p.state.updating).toBeUndefined();
    expect(p.state.skip).toEqual([]);
  });
});

describe("heartbeat", () => {
  test("commits the trial of the running version", () => {
    const s = heartbeat(
      { ...onTrial({ default: 1 }), failed: { version: "0.9.0", reason: "x" } },
      "1.1.0",
      at(2000),
    );
    expect(s).toMatchObject({ active: "1.1.0", backup: "1.0.0", heartbeat: at(2000).toISOString() });
    expect(s.updating).toBeUndefined();
    expect(s.failed).toBeUndefined();
  });
  test("another version's heartbeat only stamps the time (the trial stays)", () => {
    const s = heartbeat(onTrial(), "1.0.0", at(2000));
    expect(s.updating?.to).toBe("1.1.0");
    expect(s.heartbeat).toBe(at(2000).toISOString());
  });
});

describe("state.json", () => {
  test("round trip", () => {
    const s: SelfState = {
      ...onTrial({ default: 1 }),
      skip: ["0.9.0"],
      manifestSerial: 7,
      failed: { version: "0.9.0", reason: "r" },
    };
    expect(parseSelfState(formatSelfState(s))).toEqual({ state: s, problems: [] });
  });
  test("a damaged file is forgotten, never fatal", () => {
    expect(parseSelfState("{not json").state).toEqual(emptySelfState());
    const r = parseSelfState(JSON.stringify({ active: "nope", skip: ["1.0.0", 3], manifest_serial: -1 }));
    expect(r.state.active).toBe("");
    expect(r.state.skip).toEqual(["1.0.0"]);
    expect(r.problems.length).toBeGreaterThan(0);
  });
});
