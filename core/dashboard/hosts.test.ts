import { describe, expect, test } from "bun:test";
import { type AgentQuery, MAX_PAGE_SIZE, parseAgentQuery } from "./hosts.ts";

describe("parseAgentQuery", () => {
  const cases: [Record<string, string>, AgentQuery | string][] = [
    [{}, { limit: 50 }],
    [
      { group: " prod ", state: "", hostname: "Web-" },
      { limit: 50, group: "prod", hostname: "Web-" },
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
