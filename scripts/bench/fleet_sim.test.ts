/** The fleet simulator's check of lost reports (compareRecords), on records made up here. */
import { describe, expect, test } from "bun:test";
import { compareRecords } from "./fleet_compare.ts";
import { type AgentRecordView, START_A, TARGET_A, TARGET_B, VERSIONS } from "./fleet_model.ts";
import { toldEarly } from "./fleet_rollouts.ts";
import type { Fleet } from "./fleet_sim.ts";
import { smallFleet } from "./fleet_testing.ts";

const fleet = (n: number) => smallFleet(n);

const SENT = Date.parse("2030-01-01T00:00:10.000Z");
const rec = (i: number, o: Partial<AgentRecordView> = {}): AgentRecordView => ({
  updater_id: `sim-r-${i}`,
  version: "1.1.0",
  state: "ok",
  last_seen: "2030-01-01T00:00:10.005Z",
  ...o,
});

/** Agent i's last report answered 2xx was `ok 1.1.0`, sent at SENT. */
function acked(f: Fleet, i: number): void {
  f.ackAt[i] = SENT;
  f.ackState[i] = 1;
  f.ackVer[i] = START_A;
}

describe("compareRecords", () => {
  test("a record that is the last acknowledged report is kept; agents never acknowledged are not checked", () => {
    const f = fleet(3);
    acked(f, 0);
    acked(f, 1);
    const c = compareRecords(f, [rec(0), rec(1)]);
    expect(c).toMatchObject({ lost: 0, missing: 0, checked: 2, unknown: 0 });
  });

  test("a missing agent, an older state, a record seen before the report was sent: each lost", () => {
    const f = fleet(4);
    for (const i of [0, 1, 2, 3]) acked(f, i);
    f.ackState[2] = 4; // rolledback 1.1.0, failed 1.2.0
    f.ackFailed[2] = TARGET_A;
    const c = compareRecords(f, [
      rec(1, { version: "1.0.0" }),
      rec(2), // still ok: the rolledback report was lost
      rec(3, { last_seen: "2030-01-01T00:00:08.000Z" }), // an identical report, but an older one
    ]);
    expect(c).toMatchObject({ lost: 4, missing: 1, checked: 4 });
    expect(c.sample[0]).toContain("sim-r-0: acknowledged ok 1.1.0");
  });

  test("a later report that was not acknowledged may be the one kept; failed_version must match", () => {
    const f = fleet(2);
    acked(f, 0);
    f.tryState[0] = 4;
    f.tryVer[0] = START_A;
    f.tryFailed[0] = TARGET_A;
    acked(f, 1);
    f.ackState[1] = 4;
    f.ackFailed[1] = TARGET_A;
    const kept = rec(0, { state: "rolledback", failed_version: "1.2.0" });
    expect(compareRecords(f, [kept, rec(1, { state: "rolledback", failed_version: "1.2.0" })]).lost).toBe(0);
    expect(compareRecords(f, [kept, rec(1, { state: "rolledback", failed_version: "1.3.0" })]).lost).toBe(1);
  });

  test("a list read while the fleet reports: only agents quiet since the mark are checked", () => {
    const f = fleet(3);
    for (const i of [0, 1, 2]) acked(f, i);
    f.seq = 10;
    f.touched[0] = 9; // its report answered before the list was read: checked
    f.touched[1] = 11; // reported while the list was read: its record may be older, or newer
    f.touched[2] = 12;
    const stale = [rec(0), rec(1, { version: "1.0.0" }), rec(2, { last_seen: "2030-01-01T00:00:01.000Z" })];
    expect(compareRecords(f, stale, 10)).toMatchObject({ lost: 0, busy: 2, checked: 1 });
    expect(compareRecords(f, [rec(1), rec(2)], 10)).toMatchObject({ lost: 1, missing: 1, checked: 1 });
    // The load stopped (no mark): every agent is checked.
    expect(compareRecords(f, stale)).toMatchObject({ lost: 2, busy: 0, checked: 3 });
  });

  test("records of other runs are counted as unknown", () => {
    const f = fleet(1);
    acked(f, 0);
    expect(compareRecords(f, [rec(0), { ...rec(0), updater_id: "someone-else" }]).unknown).toBe(1);
  });
});

describe("Fleet.grow", () => {
  test("agents spread over groups and start versions; failRatio of each group fails, evenly", () => {
    const f = fleet(40);
    expect([...f.group.slice(0, 4)]).toEqual([0, 1, 0, 1]);
    expect(new Set(f.ver).size).toBe(3);
    const perGroup = [0, 0];
    for (let i = 0; i < 40; i++) if (f.failA[i]) (perGroup[f.group[i] as number] as number)++;
    expect(perGroup).toEqual([2, 2]);
    expect(f.groupSize(0) + f.groupSize(1)).toBe(40);
  });
});

describe("toldEarly", () => {
  test("an agent told to update before its group started, or in a group never started: WRONG, naming the replica", () => {
    const f = smallFleet(4, { groups: ["g1", "g2", "g3"], urls: ["http://a", "http://b"] });
    const at = (g: number, v: number) => g * VERSIONS.length + v;
    const started = new Map([
      ["g1", 1000],
      ["g2", 5000],
    ]);
    const name = (k: number) => `r${k + 1}`;
    f.firstToldAt[at(0, TARGET_B)] = 1000; // g1: at its start, right
    f.firstToldAt[at(1, TARGET_A)] = 4000; // another version: not this rollout's
    expect(toldEarly(name, f, ["g1", "g2", "g3"], TARGET_B, started)).toEqual([]);
    f.firstToldAt[at(1, TARGET_B)] = 4000; // g2: a second before its start
    f.toldCount[at(1, TARGET_B)] = 3;
    f.firstToldAt[at(2, TARGET_B)] = 7000; // g3: never started (halted)
    f.toldCount[at(2, TARGET_B)] = 7;
    f.firstToldBy[at(2, TARGET_B)] = 1;
    expect(toldEarly(name, f, ["g1", "g2", "g3"], TARGET_B, started)).toEqual([
      "WRONG g2: 3 agents told to update to 1.3.0 before the group started (started 1.00 s later); the first by r1",
      "WRONG g3: 7 agents told to update to 1.3.0 before the group started (never started); the first by r2",
    ]);
  });
});
