import { describe, expect, test } from "bun:test";
import type { Problem } from "../validate/mod.ts";
import {
  BadResourceError,
  checkAutoupdateConfig,
  checkAutoupdateVersion,
  defaultAutoupdateConfig,
  formatAutoupdateConfig,
  formatAutoupdateVersion,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "./mod.ts";

const DESIGN_CONFIG = `
kind: autoupdate_config
spec:
  tools: { mode: enabled }                  # enabled | disabled
  agents:
    mode: enabled                           # enabled | disabled | suspended
    strategy: halt-on-error                 # halt-on-error | time-based
    schedules:
      regular:
        - { name: canary, days: ["Mon", "Tue", "Wed", "Thu"], start_hour: 9, canary_count: 2 }
        - { name: prod, days: ["*"], start_hour: 2, wait_hours: 24 }
`;

const DESIGN_VERSION = `
kind: autoupdate_version
spec:
  tools: { target_version: 17.0.1 }
  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: regular, mode: enabled }
`;

/** A config object with the given spec.agents (tools enabled). */
const cfg = (agents: unknown) => ({ kind: "autoupdate_config", spec: { agents } });
const group = (extra: Record<string, unknown> = {}) => ({
  name: "g",
  days: ["Mon"],
  start_hour: 1,
  ...extra,
});

function problemsOf(input: unknown, which: "config" | "version" = "config"): Problem[] {
  const r = which === "config" ? checkAutoupdateConfig(input) : checkAutoupdateVersion(input);
  if (r.ok) throw new Error(`expected problems, got ${JSON.stringify(r.value)}`);
  return r.problems;
}

describe("autoupdate_config: the DESIGN §2 example", () => {
  test("YAML parses to the full config with defaults", () => {
    expect(parseAutoupdateConfig(DESIGN_CONFIG)).toEqual({
      kind: "autoupdate_config",
      metadata: { name: "autoupdate-config" },
      spec: {
        tools: { mode: "enabled" },
        agents: {
          mode: "enabled",
          strategy: "halt-on-error",
          maintenanceWindowMinutes: 60,
          groups: [
            {
              name: "canary",
              days: ["Mon", "Tue", "Wed", "Thu"],
              startHour: 9,
              waitHours: 0,
              canaryCount: 2,
            },
            { name: "prod", days: ["*"], startHour: 2, waitHours: 24, canaryCount: 0 },
          ],
        },
      },
    });
  });
  test("the same as JSON text and as an object", () => {
    const c = parseAutoupdateConfig(DESIGN_CONFIG);
    const wire = formatAutoupdateConfig(c);
    expect(parseAutoupdateConfig(JSON.stringify(wire))).toEqual(c);
    expect(parseAutoupdateConfig(wire)).toEqual(c);
  });
  test("time-based with a window length", () => {
    const c = parseAutoupdateConfig(
      cfg({ strategy: "time-based", maintenance_window_minutes: 90, schedules: { regular: [group()] } }),
    );
    expect(c.spec.agents.maintenanceWindowMinutes).toBe(90);
    expect(formatAutoupdateConfig(c)).toEqual({
      kind: "autoupdate_config",
      metadata: { name: "autoupdate-config" },
      spec: {
        tools: { mode: "disabled" }, // no spec.tools: Teleport's default
        agents: {
          mode: "enabled",
          strategy: "time-based",
          maintenance_window_duration: "5400s",
          schedules: { regular: [{ name: "g", days: ["Mon"], start_hour: 1 }] },
        },
      },
    });
  });
});

describe("what tctl get prints is accepted (Teleport's field names)", () => {
  test("sub_kind, metadata.revision, metadata.expires, metadata.namespace, version: v1 are read and not kept", () => {
    const c = parseAutoupdateConfig(`kind: autoupdate_config
sub_kind: ""
version: v1
metadata:
  name: autoupdate-config
  namespace: default
  revision: 3c1d6d8e-0b6a-4b8e-9b1e-5f1c2a1d9e77
  expires: "2030-01-01T00:00:00Z"
spec:
  agents:
    mode: enabled
    strategy: time-based
    maintenance_window_duration: 1h30m
    schedules:
      regular:
        - { name: dev, days: ["Mon", "Tue", "Wed", "Thu"], start_hour: 4 }
`);
    expect(c.metadata).toEqual({ name: "autoupdate-config" });
    expect(c.spec.agents.maintenanceWindowMinutes).toBe(90);
  });
  test.each([
    ["3600s", 60],
    ["1h", 60],
    ["90m", 90],
    ["10m", 10],
    ["24h", 1440],
  ])("maintenance_window_duration %s is %d minutes", (text, minutes) => {
    const c = parseAutoupdateConfig(
      cfg({ strategy: "time-based", maintenance_window_duration: text, schedules: { regular: [group()] } }),
    );
    expect(c.spec.agents.maintenanceWindowMinutes).toBe(minutes);
    // Written back under Teleport's name, in protobuf JSON's form, and read back the same.
    const wire = formatAutoupdateConfig(c);
    expect((wire.spec as { agents: Record<string, unknown> }).agents.maintenance_window_duration).toBe(
      `${minutes * 60}s`,
    );
    expect(parseAutoupdateConfig(wire)).toEqual(c);
  });
  test("a zero maintenance_window_duration is accepted under halt-on-error (as Teleport requires)", () => {
    for (const zero of ["0s", "0"])
      expect(parseAutoupdateConfig(cfg({ maintenance_window_duration: zero })).spec.agents.strategy).toBe(
        "halt-on-error",
      );
  });
  test("maintenance_window_minutes stays upkeep's alias", () => {
    const c = parseAutoupdateConfig(
      cfg({ strategy: "time-based", maintenance_window_minutes: 45, schedules: { regular: [group()] } }),
    );
    expect(c.spec.agents.maintenanceWindowMinutes).toBe(45);
  });
});

describe("autoupdate_config defaults", () => {
  test("the empty resource", () => {
    expect(parseAutoupdateConfig("kind: autoupdate_config")).toEqual(defaultAutoupdateConfig());
    expect(defaultAutoupdateConfig().spec).toEqual({
      // Teleport's default: client tools are not told to update until spec.tools.mode says enabled.
      tools: { mode: "disabled" },
      agents: {
        mode: "enabled",
        strategy: "halt-on-error",
        maintenanceWindowMinutes: 60,
        groups: [
          {
            name: "default",
            days: ["Mon", "Tue", "Wed", "Thu"],
            startHour: 12,
            waitHours: 0,
            canaryCount: 0,
          },
        ],
      },
    });
  });
  test("days default to Mon..Thu; day names are normalized", () => {
    const c = parseAutoupdateConfig(cfg({ schedules: { regular: [{ name: "a", start_hour: 0 }] } }));
    expect(c.spec.agents.groups[0]?.days).toEqual(["Mon", "Tue", "Wed", "Thu"]);
    const d = parseAutoupdateConfig(cfg({ schedules: { regular: [group({ days: ["sat", "SUN"] })] } }));
    expect(d.spec.agents.groups[0]?.days).toEqual(["Sat", "Sun"]);
  });
  test("metadata is kept", () => {
    const c = parseAutoupdateConfig({
      kind: "autoupdate_config",
      version: "v1",
      metadata: { name: "autoupdate-config", description: "d", labels: { team: "ops" } },
    });
    expect(c.metadata).toEqual({ name: "autoupdate-config", description: "d", labels: { team: "ops" } });
    expect(formatAutoupdateConfig(c).metadata).toEqual(c.metadata);
  });
  test("explicit zero wait_hours / canary_count are accepted under time-based", () => {
    const c = parseAutoupdateConfig(
      cfg({ strategy: "time-based", schedules: { regular: [group({ wait_hours: 0, canary_count: 0 })] } }),
    );
    expect(c.spec.agents.groups[0]?.waitHours).toBe(0);
  });
});

describe("autoupdate_config refusals name the field path", () => {
  const cases: [string, unknown, string, RegExp][] = [
    [
      "start_hour 24",
      cfg({ schedules: { regular: [group({ start_hour: 24 })] } }),
      "spec.agents.schedules.regular[0].start_hour",
      /must be an integer 0..23 \(got 24\)/,
    ],
    [
      "start_hour string",
      cfg({ schedules: { regular: [group({ start_hour: "9" })] } }),
      "spec.agents.schedules.regular[0].start_hour",
      /got "9"/,
    ],
    [
      "start_hour missing",
      cfg({ schedules: { regular: [{ name: "a" }] } }),
      "spec.agents.schedules.regular[0].start_hour",
      /required/,
    ],
    [
      "bad day",
      cfg({ schedules: { regular: [group({ days: ["Mon", "Funday"] })] } }),
      "spec.agents.schedules.regular[0].days[1]",
      /got "Funday"/,
    ],
    [
      "empty days",
      cfg({ schedules: { regular: [group({ days: [] })] } }),
      "spec.agents.schedules.regular[0].days",
      /non-empty/,
    ],
    [
      "star with others",
      cfg({ schedules: { regular: [group({ days: ["*", "Mon"] })] } }),
      "spec.agents.schedules.regular[0].days",
      /stand alone/,
    ],
    [
      "duplicate day",
      cfg({ schedules: { regular: [group({ days: ["Mon", "mon"] })] } }),
      "spec.agents.schedules.regular[0].days[1]",
      /duplicate/,
    ],
    [
      "name missing",
      cfg({ schedules: { regular: [{ start_hour: 1 }] } }),
      "spec.agents.schedules.regular[0].name",
      /required/,
    ],
    [
      "name uppercase",
      cfg({ schedules: { regular: [group({ name: "Prod" })] } }),
      "spec.agents.schedules.regular[0].name",
      /a-z, 0-9/,
    ],
    [
      "name empty",
      cfg({ schedules: { regular: [group({ name: "" })] } }),
      "spec.agents.schedules.regular[0].name",
      /a-z, 0-9/,
    ],
    [
      "name duplicate",
      cfg({ schedules: { regular: [group(), group()] } }),
      "spec.agents.schedules.regular[1].name",
      /duplicate group name "g" \(also spec.agents.schedules.regular\[0\]\)/,
    ],
    [
      "wait_hours negative",
      cfg({ schedules: { regular: [group(), group({ name: "h", wait_hours: -1 })] } }),
      "spec.agents.schedules.regular[1].wait_hours",
      /0..720/,
    ],
    [
      "wait_hours fractional",
      cfg({ schedules: { regular: [group(), group({ name: "h", wait_hours: 1.5 })] } }),
      "spec.agents.schedules.regular[1].wait_hours",
      /integer/,
    ],
    [
      "wait_hours on the first group",
      cfg({ schedules: { regular: [group({ wait_hours: 2 })] } }),
      "spec.agents.schedules.regular[0].wait_hours",
      /first group/,
    ],
    [
      "canary_count 6",
      cfg({ schedules: { regular: [group({ canary_count: 6 })] } }),
      "spec.agents.schedules.regular[0].canary_count",
      /0..5 \(got 6\)/,
    ],
    [
      "wait_hours under time-based",
      cfg({ strategy: "time-based", schedules: { regular: [group({ wait_hours: 3 })] } }),
      "spec.agents.schedules.regular[0].wait_hours",
      /only for strategy halt-on-error/,
    ],
    [
      "canary_count under time-based",
      cfg({ strategy: "time-based", schedules: { regular: [group({ canary_count: 1 })] } }),
      "spec.agents.schedules.regular[0].canary_count",
      /only for strategy halt-on-error/,
    ],
    [
      "window minutes under halt-on-error",
      cfg({ maintenance_window_minutes: 60 }),
      "spec.agents.maintenance_window_minutes",
      /only for strategy time-based/,
    ],
    [
      "window minutes 0",
      cfg({ strategy: "time-based", maintenance_window_minutes: 0 }),
      "spec.agents.maintenance_window_minutes",
      /10..1440/,
    ],
    [
      "window minutes 1441",
      cfg({ strategy: "time-based", maintenance_window_minutes: 1441 }),
      "spec.agents.maintenance_window_minutes",
      /10..1440/,
    ],
    [
      "empty group list",
      cfg({ schedules: { regular: [] } }),
      "spec.agents.schedules.regular",
      /at least one group/,
    ],
    [
      "groups not a list",
      cfg({ schedules: { regular: { name: "a" } } }),
      "spec.agents.schedules.regular",
      /must be a list/,
    ],
    [
      "group not a mapping",
      cfg({ schedules: { regular: ["a"] } }),
      "spec.agents.schedules.regular[0]",
      /must be a mapping/,
    ],
    [
      "bad agents mode",
      cfg({ mode: "paused" }),
      "spec.agents.mode",
      /enabled, disabled, suspended \(got "paused"\)/,
    ],
    ["bad strategy", cfg({ strategy: "rolling" }), "spec.agents.strategy", /halt-on-error, time-based/],
    [
      "bad tools mode",
      { kind: "autoupdate_config", spec: { tools: { mode: "suspended" } } },
      "spec.tools.mode",
      /enabled, disabled/,
    ],
    [
      "unknown group field",
      cfg({ schedules: { regular: [group({ strat_hour: 3 })] } }),
      "spec.agents.schedules.regular[0].strat_hour",
      /unknown field/,
    ],
    ["unknown agents field", cfg({ max_in_flight: "10%" }), "spec.agents.max_in_flight", /unknown field/],
    [
      "window duration under halt-on-error",
      cfg({ maintenance_window_duration: "1h" }),
      "spec.agents.maintenance_window_duration",
      /must be zero for strategy halt-on-error/,
    ],
    [
      "window duration under 10 minutes (Teleport's minimum)",
      cfg({ strategy: "time-based", maintenance_window_duration: "5m" }),
      "spec.agents.maintenance_window_duration",
      /whole minutes, 10 minutes to 24 hours/,
    ],
    [
      "window duration not whole minutes",
      cfg({ strategy: "time-based", maintenance_window_duration: "630s" }),
      "spec.agents.maintenance_window_duration",
      /whole minutes/,
    ],
    [
      "window duration not a duration",
      cfg({ strategy: "time-based", maintenance_window_duration: 60 }),
      "spec.agents.maintenance_window_duration",
      /a duration such as 1h, 90m or 3600s/,
    ],
    [
      "window duration and minutes both",
      cfg({ strategy: "time-based", maintenance_window_duration: "1h", maintenance_window_minutes: 60 }),
      "spec.agents.maintenance_window_minutes",
      /not both/,
    ],
    ["sub_kind not a string", { kind: "autoupdate_config", sub_kind: 3 }, "sub_kind", /must be a string/],
    [
      "unknown spec field",
      { kind: "autoupdate_config", spec: { agent: {} } },
      "spec.agent",
      /unknown field \(allowed: tools, agents\)/,
    ],
    [
      "unknown schedule kind",
      cfg({ schedules: { fast: [] } }),
      "spec.agents.schedules.fast",
      /unknown field/,
    ],
    ["unknown top-level field", { kind: "autoupdate_config", status: {} }, "status", /unknown field/],
    [
      "wrong metadata name",
      { kind: "autoupdate_config", metadata: { name: "mine" } },
      "metadata.name",
      /must be autoupdate-config/,
    ],
    [
      "label not a string",
      { kind: "autoupdate_config", metadata: { labels: { a: 1 } } },
      "metadata.labels.a",
      /must be a string/,
    ],
    ["resource version", { kind: "autoupdate_config", version: "v2" }, "version", /must be v1/],
    ["missing kind", { spec: {} }, "kind", /required/],
    [
      "wrong kind",
      { kind: "autoupdate_version", spec: { agents: {} } },
      "kind",
      /must be autoupdate_config \(got "autoupdate_version"\)/,
    ],
    [
      "spec not a mapping",
      { kind: "autoupdate_config", spec: [1] },
      "spec",
      /must be a mapping \(got a list\)/,
    ],
    ["not a mapping", "- a\n- b\n", "", /must be a mapping with kind: autoupdate_config/],
    ["bad YAML", "kind: autoupdate_config\nspec: {", "", /not valid YAML or JSON at line/],
    ["duplicate YAML keys", "kind: autoupdate_config\nkind: autoupdate_config\n", "", /not valid YAML/],
    ["bad JSON", '{"kind": "autoupdate_config"', "", /not valid YAML or JSON at line 1/],
  ];
  test.each(cases)("%s", (_name, input, path, re) => {
    const problems = problemsOf(input);
    const p = problems.find((x) => x.path === path);
    expect(p).toBeDefined();
    expect(p?.message).toMatch(re);
    expect(() => parseAutoupdateConfig(input)).toThrow(BadResourceError);
  });

  test("a wrong kind reports only the kind", () => {
    expect(problemsOf({ kind: "autoupdate_version", spec: { agents: { x: 1 } } })).toHaveLength(1);
  });

  test("JSON with a trailing comma is accepted (YAML flow syntax)", () => {
    expect(checkAutoupdateConfig('{"kind": "autoupdate_config",}').ok).toBe(true);
  });

  test("all problems are collected, in document order, and the error lists them", () => {
    const input = cfg({
      mode: "on",
      schedules: { regular: [group({ start_hour: 24 }), group({ name: "b", canary_count: 9, typo: 1 })] },
    });
    expect(problemsOf(input).map((p) => p.path)).toEqual([
      "spec.agents.mode",
      "spec.agents.schedules.regular[0].start_hour",
      "spec.agents.schedules.regular[1].typo",
      "spec.agents.schedules.regular[1].canary_count",
    ]);
    try {
      parseAutoupdateConfig(input);
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(BadResourceError);
      const err = e as BadResourceError;
      expect(err.code).toBe("E_BAD_RESOURCE");
      expect(err.exitCode).toBe(2);
      expect(err.problems).toHaveLength(4);
      expect(err.message).toStartWith("autoupdate_config has 4 problems: spec.agents.mode: must be one of");
      expect(err.message).toContain(
        "spec.agents.schedules.regular[0].start_hour: must be an integer 0..23 (got 24)",
      );
    }
  });

  test("a single problem reads as one line", () => {
    expect(() => parseAutoupdateConfig(cfg({ schedules: { regular: [group({ start_hour: 24 })] } }))).toThrow(
      "autoupdate_config: spec.agents.schedules.regular[0].start_hour: must be an integer 0..23 (got 24)",
    );
  });
});

describe("autoupdate_version", () => {
  test("the DESIGN §2 example", () => {
    expect(parseAutoupdateVersion(DESIGN_VERSION)).toEqual({
      kind: "autoupdate_version",
      metadata: { name: "autoupdate-version" },
      spec: {
        tools: { targetVersion: "17.0.1" },
        agents: { startVersion: "16.4.0", targetVersion: "17.0.1", schedule: "regular", mode: "enabled" },
      },
    });
  });
  test("leading v accepted and dropped; defaults schedule regular, mode enabled", () => {
    const v = parseAutoupdateVersion({
      kind: "autoupdate_version",
      spec: { agents: { start_version: "v16.4.0", target_version: "V17.0.1-rc.1+b5" } },
    });
    expect(v.spec.agents).toEqual({
      startVersion: "16.4.0",
      targetVersion: "17.0.1-rc.1+b5",
      schedule: "regular",
      mode: "enabled",
    });
    expect(v.spec.tools).toBeUndefined();
  });
  test("round trip through the canonical form", () => {
    const v = parseAutoupdateVersion(DESIGN_VERSION);
    const wire = formatAutoupdateVersion(v);
    expect(wire).toEqual({
      kind: "autoupdate_version",
      metadata: { name: "autoupdate-version" },
      spec: {
        tools: { target_version: "17.0.1" },
        agents: { start_version: "16.4.0", target_version: "17.0.1", schedule: "regular", mode: "enabled" },
      },
    });
    expect(parseAutoupdateVersion(wire)).toEqual(v);
    expect(parseAutoupdateVersion(JSON.stringify(wire))).toEqual(v);
  });
  test("an empty spec is valid", () => {
    expect(parseAutoupdateVersion("kind: autoupdate_version").spec).toEqual({});
  });
  const ver = (agents: unknown, tools?: unknown) => ({
    kind: "autoupdate_version",
    spec: tools === undefined ? { agents } : { agents, tools },
  });
  const ok = { start_version: "1.0.0", target_version: "1.0.1" };
  const cases: [string, unknown, string, RegExp][] = [
    ["start missing", ver({ target_version: "1.0.0" }), "spec.agents.start_version", /required/],
    ["target missing", ver({ start_version: "1.0.0" }), "spec.agents.target_version", /required/],
    [
      "target not semver",
      ver({ ...ok, target_version: "17.0" }),
      "spec.agents.target_version",
      /semver.*got "17.0"/,
    ],
    [
      "target a YAML number",
      "kind: autoupdate_version\nspec: {agents: {start_version: 1.0.0, target_version: 17.0}}",
      "spec.agents.target_version",
      /got 17/,
    ],
    ["leading zero", ver({ ...ok, start_version: "01.0.0" }), "spec.agents.start_version", /semver/],
    ["bad schedule", ver({ ...ok, schedule: "now" }), "spec.agents.schedule", /regular, immediate/],
    ["bad mode", ver({ ...ok, mode: "off" }), "spec.agents.mode", /enabled, disabled, suspended/],
    ["unknown agents field", ver({ ...ok, jitter: 5 }), "spec.agents.jitter", /unknown field/],
    ["tools target bad", ver(ok, { target_version: "x" }), "spec.tools.target_version", /semver/],
    ["tools target missing", ver(ok, {}), "spec.tools.target_version", /required/],
    [
      "unknown tools field",
      ver(ok, { target_version: "1.0.0", mode: "enabled" }),
      "spec.tools.mode",
      /unknown field/,
    ],
    ["wrong kind", { kind: "autoupdate_config" }, "kind", /must be autoupdate_version/],
    [
      "wrong name",
      { kind: "autoupdate_version", metadata: { name: "x" } },
      "metadata.name",
      /autoupdate-version/,
    ],
  ];
  test.each(cases)("refuses %s", (_name, input, path, re) => {
    const p = problemsOf(input, "version").find((x) => x.path === path);
    expect(p?.message).toMatch(re);
    expect(() => parseAutoupdateVersion(input)).toThrow(BadResourceError);
  });
});

describe("never crashes on odd input", () => {
  test.each([
    [null],
    [undefined],
    [42],
    [""],
    ["~"],
    ["a: &a [*a]"],
    ["kind: autoupdate_config\nspec: !!binary aGVsbG8="],
    [{ kind: "autoupdate_config", spec: { agents: { schedules: { regular: [null, 1, [], {}] } } } }],
  ])("%p", (input) => {
    expect(checkAutoupdateConfig(input).ok).toBe(false);
    expect(checkAutoupdateVersion(input).ok).toBe(false);
  });
});
