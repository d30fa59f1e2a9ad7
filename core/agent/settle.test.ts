/** Table tests: the status changes of commit, rollback and a failed pass. */
import { describe, expect, test } from "bun:test";
import {
  commitStatus,
  failedStatus,
  keptUnhealthyStatus,
  rolledBackStatus,
  rollingBackStatus,
  switchedStatus,
} from "./settle.ts";
import { emptyStatus } from "./state_file.ts";
import type { AgentStatus } from "./types.ts";

const intent = { from: "1.0.0", to: "1.1.0", started: "2026-01-01T00:00:00Z" };
const base = (o: Partial<AgentStatus> = {}): AgentStatus => ({
  ...emptyStatus(),
  active: "1.1.0",
  backup: "1.0.0",
  updating: intent,
  lastError: "old error",
  ...o,
});

/** [what, the change, the status before, the fields after] */
type Case = [
  string,
  (s: AgentStatus) => AgentStatus,
  AgentStatus,
  Partial<AgentStatus> & { updating?: unknown },
];

const cases: Case[] = [
  [
    "commit: active, backup, no longer skipped, intent dropped",
    (s) => commitStatus(s, { from: "1.0.0", to: "1.1.0", detail: "pid 7 up" }),
    base({ active: "1.0.0", backup: "0.9.0", skip: ["1.1.0"], skipByOperator: ["1.1.0"] }),
    {
      active: "1.1.0",
      backup: "1.0.0",
      skip: [],
      skipByOperator: [],
      updating: undefined,
      lastResult: "updated from 1.0.0 to 1.1.0 (pid 7 up)",
      lastError: "",
    },
  ],
  [
    "commit of a first install: no backup",
    (s) => commitStatus(s, { from: "", to: "1.1.0", detail: "first install" }),
    base({ active: "", backup: "" }),
    { active: "1.1.0", backup: "", lastResult: "installed 1.1.0 (first install)", updating: undefined },
  ],
  [
    "commit of the version already active (a forced reinstall): the backup stays",
    (s) => commitStatus(s, { from: "v1.1.0", to: "1.1.0", detail: "d" }),
    base(),
    { active: "1.1.0", backup: "1.0.0", lastResult: "installed 1.1.0 (d)" },
  ],
  [
    "switched without a supervisor: active, backup, the intent kept for the loop",
    (s) => switchedStatus(s, { from: "1.0.0", to: "1.1.0" }),
    base({ active: "1.0.0", backup: "" }),
    {
      active: "1.1.0",
      backup: "1.0.0",
      updating: intent,
      lastResult: "switched to 1.1.0; its health is checked when `upkeep agent run` starts the daemon",
      lastError: "",
    },
  ],
  [
    "unhealthy with nothing to go back to: kept, said",
    (s) => keptUnhealthyStatus(s, { to: "1.1.0", detail: "exited" }),
    base({ active: "" }),
    {
      active: "1.1.0",
      updating: undefined,
      lastError: "1.1.0 is unhealthy (exited) and there is no previous version to roll back to",
    },
  ],
  [
    "rolling back: the intent marked, its start kept",
    (s) => rollingBackStatus(s, { from: "1.0.0", to: "1.1.0", reason: "r", now: "2026-02-02T00:00:00Z" }),
    base(),
    { updating: { ...intent, rollingBack: { reason: "r" } } },
  ],
  [
    "rolling back an update with no intent (settled in this pass): started now",
    (s) => rollingBackStatus(s, { from: "1.0.0", to: "1.1.0", reason: "r", now: "2026-02-02T00:00:00Z" }),
    base({ updating: undefined }),
    {
      updating: { from: "1.0.0", to: "1.1.0", started: "2026-02-02T00:00:00Z", rollingBack: { reason: "r" } },
    },
  ],
  [
    "rolled back: old version active, new one skipped (a failure, not the operator's), backup cleared",
    (s) =>
      rolledBackStatus(s, {
        from: "1.0.0",
        to: "1.1.0",
        reason: "1.1.0 was unhealthy",
        detectMs: 40,
        rollbackMs: 30,
        restartError: "",
      }),
    base({ skipByOperator: ["1.1.0"], skip: ["1.1.0"] }),
    {
      active: "1.0.0",
      backup: "",
      skip: ["1.1.0"],
      skipByOperator: [],
      updating: undefined,
      lastResult: "rolled back from 1.1.0 to 1.0.0 in 30 ms (detected in 40 ms); 1.1.0 is skipped",
      lastError: "1.1.0 was unhealthy",
    },
  ],
  [
    "rolled back, restarting the old version failed: said",
    (s) =>
      rolledBackStatus(s, {
        from: "1.0.0",
        to: "1.1.0",
        reason: "r",
        detectMs: 1,
        rollbackMs: 2,
        restartError: "exit 1",
      }),
    base({ backup: "0.9.0" }),
    {
      backup: "0.9.0",
      lastResult:
        "rolled back from 1.1.0 to 1.0.0 in 2 ms (detected in 1 ms); 1.1.0 is skipped; restarting 1.0.0 failed: exit 1",
    },
  ],
  [
    "failed before the switch, skipped",
    (s) =>
      failedStatus(s, { from: "1.0.0", to: "1.1.0", error: "e (E_SMOKE)", afterSwitch: false, skip: true }),
    base({ active: "1.0.0", updating: undefined }),
    {
      active: "1.0.0",
      skip: ["1.1.0"],
      lastError: "e (E_SMOKE)",
      lastResult: "update to 1.1.0 failed before the switch; still running 1.0.0",
    },
  ],
  [
    "failed before the switch of a first install, tried again",
    (s) => failedStatus(s, { from: "", to: "1.1.0", error: "e", afterSwitch: false, skip: false }),
    base({ active: "", updating: undefined }),
    { skip: [], lastResult: "update to 1.1.0 failed before the switch; still running nothing" },
  ],
  [
    "failed after the switch: the intent stays for recovery",
    (s) => failedStatus(s, { from: "1.0.0", to: "1.1.0", error: "e", afterSwitch: true, skip: false }),
    base(),
    {
      updating: intent,
      lastResult: "update to 1.1.0 failed after the switch: the next command finishes or undoes it",
    },
  ],
];

describe("status changes", () => {
  for (const [what, change, before, after] of cases)
    test(what, () => {
      const snapshot = structuredClone(before);
      const next = change(before);
      for (const [k, v] of Object.entries(after)) expect(next[k as keyof AgentStatus]).toEqual(v as never);
      expect(before).toEqual(snapshot); // the input is never changed
    });
});
