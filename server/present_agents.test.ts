import { describe, expect, test } from "bun:test";
import { parseAutoupdateConfig } from "../core/resources/mod.ts";
import { PresentAgents } from "./present_agents.ts";
import type { AgentRecord } from "./store.ts";

const config = (names: string[]) =>
  parseAutoupdateConfig({
    kind: "autoupdate_config",
    spec: { agents: { schedules: { regular: names.map((name) => ({ name, days: ["*"], start_hour: 9 })) } } },
  });
const MIN = 60_000;
const T0 = Date.parse("2026-11-23T08:00:00Z");

const rec = (id: string, group: string, version = "1.0.0", state: AgentRecord["state"] = "ok", extra = {}) =>
  ({
    updater_id: id,
    hostname: `${id}.local`,
    group,
    version,
    state,
    last_seen: "",
    ...extra,
  }) as AgentRecord;

/** Each group's present agents as `state version failed: count`. */
function counts(p: PresentAgents): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [g, kinds] of p.counts())
    out[g] = [...kinds.values()]
      .filter((k) => k.count > 0)
      .map((k) => `${k.state} ${k.version} ${k.kind.failedVersion ?? "-"}: ${k.count}`)
      .sort();
  return out;
}

describe("present agents, counted per group", () => {
  test("a report changes the counts only when the agent's kind or group changes", () => {
    const p = new PresentAgents(config(["canary", "prod"]), 10 * MIN);
    expect(p.add(rec("a", "prod"), T0)).toEqual(["prod"]);
    expect(p.add(rec("b", "nope"), T0)).toEqual(["prod"]); // unknown group: the last one
    expect(p.add(rec("a", "prod"), T0 + MIN)).toEqual([]);
    expect(p.add(rec("a", "prod", "1.0.0", "rolledback", { failed_version: "2.0.0" }), T0 + MIN)).toEqual([
      "prod",
    ]);
    expect(p.add(rec("b", "canary"), T0 + MIN)).toEqual(["prod", "canary"]);
    expect(counts(p)).toEqual({ canary: ["ok 1.0.0 -: 1"], prod: ["rolledback 1.0.0 2.0.0: 1"] });
    const prod = p.group("prod");
    expect(prod.member("a")).toMatchObject({ updaterId: "a", healthy: false, failedVersion: "2.0.0" });
    expect(prod.member("b")).toBeUndefined(); // counted in canary now
    expect(
      p
        .group("canary")
        .members()
        .map((a) => a.updaterId),
    ).toEqual(["b"]);
  });

  test("expiry drops exactly the agents not seen within the window, oldest first", () => {
    const p = new PresentAgents(config(["prod"]), 10 * MIN);
    for (let i = 0; i < 5; i++) p.add(rec(`a${i}`, "prod"), T0 + i * MIN);
    p.add(rec("a0", "prod"), T0 + 5 * MIN); // a0 reports again: now the newest
    expect(p.expire(T0 + 13 * MIN)).toEqual(["prod"]); // a1 (+1 min) and a2 (+2 min): more than 10 minutes
    expect(p.size).toBe(3);
    expect(p.expire(T0 + 13 * MIN)).toEqual([]);
    expect(
      p
        .group("prod")
        .members()
        .map((a) => a.updaterId),
    ).toEqual(["a3", "a4", "a0"]);
    expect(p.expire(T0 + 15 * MIN)).toEqual(["prod"]); // seen at +5 min: exactly 10 minutes ago counts
    expect(p.size).toBe(1);
  });

  test("a report older than the newest one (the clock stepped back) does not hide expired agents", () => {
    const p = new PresentAgents(config(["prod"]), 10 * MIN);
    p.add(rec("new", "prod"), T0 + 30 * MIN);
    p.add(rec("old", "prod"), T0);
    p.expire(T0 + 35 * MIN);
    expect(
      p
        .group("prod")
        .members()
        .map((a) => a.updaterId),
    ).toEqual(["new"]);
    expect(counts(p)).toEqual({ prod: ["ok 1.0.0 -: 1"] });
  });

  test("a new schedule counts every agent again in the group it now resolves to", () => {
    const p = new PresentAgents(config(["canary", "prod"]), 10 * MIN);
    p.add(rec("a", "stage"), T0);
    p.add(rec("b", "canary"), T0);
    p.setConfig(config(["stage", "canary", "prod"]));
    expect(counts(p)).toEqual({ stage: ["ok 1.0.0 -: 1"], canary: ["ok 1.0.0 -: 1"] });
  });
});
