/** The Store contract (store_contract.ts): the rollout, its compare-and-swap, and the event log. */
import { expect, test } from "bun:test";
import { event, type Fresh } from "./store_contract_kit.ts";

/** The rollout document and its generation, compare-and-swap (one writer wins), the event log. */
export function rolloutContract(fresh: Fresh): void {
  test("rollout: absent, written, cleared (null reads as none); every write moves the generation", async () => {
    const { s } = await fresh();
    expect(await s.getRollout()).toBeUndefined();
    expect(await s.getRolloutState()).toBeUndefined();
    await s.putRollout({ groups: [{ name: "canary", state: "active" }] });
    expect(await s.getRollout()).toEqual({ groups: [{ name: "canary", state: "active" }] });
    expect(await s.getRolloutState()).toEqual({
      value: { groups: [{ name: "canary", state: "active" }] },
      generation: 1,
    });
    await s.putRollout(null);
    expect(await s.getRollout()).toBeUndefined();
    expect(await s.getRolloutState()).toEqual({ value: undefined, generation: 2 });
  });

  test("casRollout: writes and appends only at the expected generation; a stale writer changes nothing", async () => {
    const { s } = await fresh();
    expect(await s.casRollout(1, { v: "x" }, [event(0)])).toBe(false); // none yet: expected is 0
    expect(await s.getRolloutState()).toBeUndefined();
    expect(await s.casRollout(0, { v: 1 }, [event(1), event(2)])).toBe(true);
    expect(await s.getRolloutState()).toEqual({ value: { v: 1 }, generation: 1 });
    expect(await s.casRollout(0, { v: "stale" }, [event(9)])).toBe(false);
    expect(await s.casRollout(1, { v: 2 }, [event(3)])).toBe(true);
    expect(await s.casRollout(1, { v: "stale" }, [event(9)])).toBe(false);
    expect(await s.getRolloutState()).toEqual({ value: { v: 2 }, generation: 2 });
    expect(await s.listEvents(100)).toEqual([event(1), event(2), event(3)]);
    // putRollout moves the generation too: a CAS holder of the old one is refused.
    await s.putRollout({ v: 3 });
    expect(await s.casRollout(2, { v: "stale" }, [])).toBe(false);
    expect(await s.getRolloutState()).toEqual({ value: { v: 3 }, generation: 3 });
    expect(await s.casRollout(3, null, [])).toBe(true);
    expect(await s.getRolloutState()).toEqual({ value: undefined, generation: 4 });
  });

  test("casRollout from two stores at once at the same generation: exactly one wins", async () => {
    const { s, another } = await fresh();
    const b = await another();
    await s.casRollout(0, { by: "start" }, []);
    for (let round = 1; round <= 10; round++) {
      const results = await Promise.all([
        s.casRollout(round, { by: "a", round }, [event(round, "a")]),
        b.casRollout(round, { by: "b", round }, [event(round, "b")]),
      ]);
      expect(results.filter((r) => r)).toHaveLength(1);
      const won = results[0] ? "a" : "b";
      expect(await b.getRolloutState()).toEqual({ value: { by: won, round }, generation: round + 1 });
    }
    // One event per round: the loser's events were not appended.
    expect(await s.listEvents(100)).toHaveLength(10);
  });

  test("events: appended in order; listEvents answers the last N, oldest first", async () => {
    const { s } = await fresh();
    expect(await s.listEvents(10)).toEqual([]);
    await s.appendEvents([event(1), event(2)]);
    await s.appendEvents([]);
    await s.appendEvents([event(3)]);
    expect(await s.listEvents(10)).toEqual([event(1), event(2), event(3)]);
    expect(await s.listEvents(2)).toEqual([event(2), event(3)]);
  });
}
