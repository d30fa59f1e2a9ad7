import { describe, expect, test } from "bun:test";
import { agent } from "./_fixtures_test_util.ts";
import { type AgentQuery, MAX_PAGE_SIZE, pageAgents, parseAgentQuery } from "./hosts.ts";

describe("parseAgentQuery", () => {
  const cases: [Record<string, string>, AgentQuery | string][] = [
    [{}, { limit: 50 }],
    [
      { group: " prod ", state: "", hostname: "Web-" },
      { limit: 50, group: "prod", hostname: "web-" },
    ],
    [
      { version: "1.1.0", state: "failed", limit: "10", cursor: "u9" },
      { limit: 10, version: "1.1.0", state: "failed", cursor: "u9" },
    ],
    [{ state: "broken" }, "hosts filter state: must be one of ok, updating, failed, rolledback"],
    [{ limit: "0" }, `hosts filter limit: must be 1 to ${MAX_PAGE_SIZE}`],
    [{ limit: "2.5" }, `hosts filter limit: must be 1 to ${MAX_PAGE_SIZE}`],
    [{ limit: String(MAX_PAGE_SIZE + 1) }, `hosts filter limit: must be 1 to ${MAX_PAGE_SIZE}`],
    [{ hostname: "x".repeat(256) }, "hosts filter hostname: must be at most 255 characters"],
  ];
  for (const [params, want] of cases)
    test(JSON.stringify(params).slice(0, 60), () => {
      if (typeof want === "string") expect(() => parseAgentQuery(params)).toThrow(want);
      else expect(parseAgentQuery(params)).toEqual(want);
    });
});

describe("pageAgents", () => {
  // Out of order on purpose, with agents in no group (counted in the last group, prod).
  const all = [
    agent("u3", { hostname: "web-3", group: "canary" }),
    agent("u1", { hostname: "web-1", version: "1.1.0" }),
    agent("u5", { hostname: "DB-5", group: "", state: "failed", failed_version: "1.1.0" }),
    agent("u2", { hostname: "web-2", group: "nonexistent" }),
    agent("u4", { hostname: "db-4", version: "1.1.0", state: "rolledback" }),
  ];
  const groupOf = (g: string) => (g === "canary" ? "canary" : "prod");
  const ids = (q: Partial<AgentQuery>) => {
    const p = pageAgents(all, { limit: 50, ...q }, groupOf);
    return { ids: p.agents.map((a) => a.updater_id), total: p.total, next: p.next };
  };

  test("filters: group as the rollout counts it, version, state, hostname prefix (any case)", () => {
    expect(ids({})).toEqual({ ids: ["u1", "u2", "u3", "u4", "u5"], total: 5, next: null });
    expect(ids({ group: "prod" }).ids).toEqual(["u1", "u2", "u4", "u5"]);
    expect(ids({ group: "canary" }).ids).toEqual(["u3"]);
    expect(ids({ version: "1.1.0" }).ids).toEqual(["u1", "u4"]);
    expect(ids({ state: "failed" }).ids).toEqual(["u5"]);
    expect(ids({ hostname: "db-" }).ids).toEqual(["u4", "u5"]);
    expect(ids({ hostname: "db-", version: "1.1.0" })).toEqual({ ids: ["u4"], total: 1, next: null });
    expect(ids({ group: "staging" })).toEqual({ ids: [], total: 0, next: null });
  });

  test("pages: each agent once, in id order, the total on every page, no next on the last", () => {
    expect(ids({ limit: 2 })).toEqual({ ids: ["u1", "u2"], total: 5, next: "u2" });
    expect(ids({ limit: 2, cursor: "u2" })).toEqual({ ids: ["u3", "u4"], total: 5, next: "u4" });
    expect(ids({ limit: 2, cursor: "u4" })).toEqual({ ids: ["u5"], total: 5, next: null });
    expect(ids({ limit: 5 })).toEqual({ ids: ["u1", "u2", "u3", "u4", "u5"], total: 5, next: null });
    expect(ids({ limit: 2, cursor: "u2", group: "prod" })).toEqual({
      ids: ["u4", "u5"],
      total: 4,
      next: null,
    });
  });

  test("a large fleet in random order pages through every agent exactly once", () => {
    const n = 2_345;
    const fleet = Array.from({ length: n }, (_, i) => agent(`a${String((i * 7919) % n).padStart(5, "0")}`));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const p = pageAgents(fleet, { limit: 100, ...(cursor ? { cursor } : {}) }, groupOf);
      expect(p.total).toBe(n);
      seen.push(...p.agents.map((a) => a.updater_id));
      if (!p.next) break;
      cursor = p.next;
    }
    expect(seen).toEqual(fleet.map((a) => a.updater_id).sort());
  });
});
