import { describe, expect, test } from "bun:test";
import { ERROR_CHARS, ReportHistory } from "./history.ts";

const r = (version: string, state: "ok" | "failed" | "updating" = "ok", extra = {}) => ({
  updater_id: "u1",
  group: "prod",
  version,
  state,
  ...extra,
});

describe("ReportHistory", () => {
  test("the same report again is one entry with a count; a change is a new entry; newest first", () => {
    const h = new ReportHistory();
    h.record(r("1.0.0"), 1000);
    h.record(r("1.0.0"), 2000);
    h.record(r("1.0.0"), 3000);
    h.record(r("1.1.0", "updating"), 4000);
    h.record(r("1.1.0", "failed", { error: "health check", failed_version: "1.1.0" }), 5000);
    h.record(r("1.1.0", "failed", { error: "other error", failed_version: "1.1.0" }), 6000);
    expect(h.recent("u1").map((e) => [e.from, e.to, e.count, e.version, e.state, e.error ?? ""])).toEqual([
      [6000, 6000, 1, "1.1.0", "failed", "other error"],
      [5000, 5000, 1, "1.1.0", "failed", "health check"],
      [4000, 4000, 1, "1.1.0", "updating", ""],
      [1000, 3000, 3, "1.0.0", "ok", ""],
    ]);
    expect(h.recent("nobody")).toEqual([]);
    expect(h.size).toBe(1);
  });

  test("at most perHost entries per host, the oldest go; a report older than the last is ignored", () => {
    const h = new ReportHistory(3);
    for (let i = 0; i < 6; i++) h.record(r(`1.0.${i}`), 1000 * i);
    h.record(r("0.9.0"), 500);
    expect(h.recent("u1").map((e) => e.version)).toEqual(["1.0.5", "1.0.4", "1.0.3"]);
    const before = h.changes;
    h.record(r("1.0.5"), 9000);
    expect(h.changes).toBe(before + 1);
  });
});

test("errors are cut to ERROR_CHARS; the same long error again is still the same report", () => {
  const h = new ReportHistory();
  const long = "x".repeat(2000);
  h.record(r("1.1.0", "failed", { error: long }), 1000);
  h.record(r("1.1.0", "failed", { error: long }), 2000);
  const [e] = h.recent("u1");
  expect([e?.count, e?.error?.length, e?.error?.endsWith("\u2026")]).toEqual([2, ERROR_CHARS, true]);
});

test("only the newest two entries of a host keep their error", () => {
  const h = new ReportHistory();
  for (let i = 0; i < 4; i++) h.record(r(`1.0.${i}`, "failed", { error: `e${i}` }), i * 1000);
  expect(h.recent("u1").map((e) => e.error)).toEqual(["e3", "e2", undefined, undefined]);
});
