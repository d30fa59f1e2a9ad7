/** Table test: which report each way a pass ends sends the server. */
import { describe, expect, test } from "bun:test";
import { type PassEnd, type PassReport, passReport } from "./pass_report.ts";
import type { PassResult } from "./pass_result.ts";

const res = (outcome: PassResult["outcome"], from = "1.0.0", to = "1.1.0"): PassResult => ({
  outcome,
  from,
  to,
  message: "m",
});
const on = (active: string, skip: string[] = [], skipByOperator: string[] = []) => ({
  active,
  skip,
  skipByOperator,
});

describe("passReport", () => {
  const cases: [string, PassEnd, PassReport | undefined][] = [
    [
      "updated: ok on the new version",
      { result: res("updated"), status: on("1.1.0") },
      { state: "ok", version: "1.1.0" },
    ],
    [
      "rolled back: the old version runs, the new one failed",
      { result: res("rolledback"), status: on("1.0.0", ["1.1.0"]), error: "unhealthy" },
      { state: "rolledback", version: "1.0.0", failedVersion: "1.1.0", error: "unhealthy" },
    ],
    [
      "failed before the switch: the old version runs",
      { result: res("failed"), status: on("1.0.0"), error: "smoke test (E_SMOKE)" },
      { state: "failed", version: "1.0.0", failedVersion: "1.1.0", error: "smoke test (E_SMOKE)" },
    ],
    [
      "failed first install: nothing runs, the new version is named",
      { result: res("failed", ""), status: on(""), error: "e" },
      { state: "failed", version: "1.1.0", failedVersion: "1.1.0", error: "e" },
    ],
    [
      "unhealthy with nothing to go back to: the new version runs",
      { result: res("failed"), status: on("1.1.0"), error: "e" },
      { state: "failed", version: "1.1.0", failedVersion: "1.1.0", error: "e" },
    ],
    [
      "asked, nothing to do, healthy",
      { result: res("unchanged", "1.0.0", "1.0.0"), status: on("1.0.0"), checked: { healthy: true } },
      { state: "ok", version: "1.0.0" },
    ],
    [
      "asked, nothing to do, health unknown",
      { result: res("unchanged"), status: on("1.0.0"), checked: { healthy: undefined } },
      { state: "ok", version: "1.0.0" },
    ],
    [
      "asked, nothing to do, the daemon unhealthy",
      { result: res("unchanged"), status: on("1.0.0"), checked: { healthy: false } },
      { state: "failed", version: "1.0.0" },
    ],
    [
      "asked, the target failed here before: rolled back, counted",
      { result: res("unchanged"), status: on("1.0.0", ["1.1.0"]), checked: { healthy: true } },
      {
        state: "rolledback",
        version: "1.0.0",
        failedVersion: "1.1.0",
        error: "1.1.0 is skipped on this host",
      },
    ],
    [
      "asked, the operator skipped the target: said, not counted",
      { result: res("unchanged"), status: on("1.0.0", ["1.1.0"], ["1.1.0"]), checked: { healthy: true } },
      {
        state: "ok",
        version: "1.0.0",
        error: "1.1.0 is skipped on this host by the operator (upkeep agent rollback)",
      },
    ],
    [
      "the operator's skip with an unhealthy daemon",
      { result: res("unchanged"), status: on("1.0.0", ["1.1.0"], ["1.1.0"]), checked: { healthy: false } },
      {
        state: "failed",
        version: "1.0.0",
        error: "1.1.0 is skipped on this host by the operator (upkeep agent rollback)",
      },
    ],
    [
      "unchanged without asking (already active, jitter stopped)",
      { result: res("unchanged"), status: on("1.0.0") },
      undefined,
    ],
    ["switched, health judged later", { result: res("switched"), status: on("1.1.0") }, undefined],
    [
      "error: nothing is held against anything",
      { result: res("error"), status: on("1.0.0"), error: "e" },
      undefined,
    ],
    ["waiting for the jitter", { result: res("waiting"), status: on("1.0.0") }, undefined],
  ];
  for (const [what, end, want] of cases) test(what, () => expect(passReport(end)).toEqual(want));
});
