import { describe, expect, test } from "bun:test";
import {
  checkAutoupdateConfig,
  defaultAutoupdateConfig,
  droppedSections,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "./mod.ts";

const BOTH = parseAutoupdateVersion(
  "kind: autoupdate_version\nspec:\n  tools: { target_version: 1.1.0 }\n  agents: { start_version: 1.0.0, target_version: 1.1.0 }\n",
);
const CONFIG = parseAutoupdateConfig(
  "kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n  agents:\n    strategy: time-based\n    schedules:\n      regular:\n        - { name: canary, days: ['*'], start_hour: 9 }\n        - { name: prod, days: ['*'], start_hour: 20 }\n",
);

describe("droppedSections: a partial apply never silently removes a section that is set now", () => {
  test("autoupdate_version without spec.tools (or spec.agents) names what it would remove and how", () => {
    const p = droppedSections(
      BOTH,
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.2.0 }\n",
    );
    expect(p.map((x) => x.path)).toEqual(["spec.tools"]);
    expect(p[0]?.message).toContain("stored autoupdate_version sets it (target_version 1.1.0)");
    expect(p[0]?.message).toContain("`tools: null`");
    const both = droppedSections(BOTH, { kind: "autoupdate_version" });
    expect(both.map((x) => x.path)).toEqual(["spec.tools", "spec.agents"]);
    expect(both[1]?.message).toContain("start_version 1.0.0, target_version 1.1.0");
  });
  test("a section repeated, changed, or written as null is fine; nothing stored loses nothing", () => {
    const kept = { kind: "autoupdate_version", spec: { tools: { target_version: "2.0.0" }, agents: null } };
    expect(droppedSections(BOTH, kept)).toEqual([]);
    expect(droppedSections(undefined, { kind: "autoupdate_version" })).toEqual([]);
    // null parses as "absent": the section is removed on purpose.
    expect(parseAutoupdateVersion(kept).spec).toEqual({ tools: { targetVersion: "2.0.0" } });
  });
  test("autoupdate_config: a section differing from the default must be repeated (or null for the default)", () => {
    const p = droppedSections(CONFIG, "kind: autoupdate_config\nspec:\n  agents: { strategy: time-based }\n");
    expect(p.map((x) => x.path)).toEqual(["spec.tools", "spec.agents.schedules"]);
    expect(p[1]?.message).toContain("groups canary, prod");
    expect(p[1]?.message).toContain("`schedules: null`");
    const none = droppedSections(CONFIG, { kind: "autoupdate_config", spec: { tools: { mode: "enabled" } } });
    expect(none.map((x) => x.path)).toEqual(["spec.agents"]);
    expect(none[0]?.message).toContain("strategy time-based, groups canary, prod");
    const reset = { kind: "autoupdate_config", spec: { tools: null, agents: { schedules: null } } };
    expect(droppedSections(CONFIG, reset)).toEqual([]);
    const r = checkAutoupdateConfig(reset);
    expect(r.ok && r.value).toEqual(defaultAutoupdateConfig());
    // A stored config at its defaults loses nothing.
    expect(droppedSections(defaultAutoupdateConfig(), { kind: "autoupdate_config" })).toEqual([]);
  });
  test("an unreadable document is left to the resource check", () => {
    expect(droppedSections(BOTH, "kind: [")).toEqual([]);
    expect(droppedSections(BOTH, 7)).toEqual([]);
  });
});
