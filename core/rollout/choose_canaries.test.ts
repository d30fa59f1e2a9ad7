import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { agent, START } from "./_fixtures_test_util.ts";
import { chooseCanaries, seededRandom } from "./mod.ts";

describe("chooseCanaries", () => {
  const agents = ["d", "b", "a", "c", "e"].map((id) => agent(id, "g", START));
  test("random 0 picks in updaterId order", () => {
    expect(chooseCanaries(agents, 2, () => 0).map((c) => c.updaterId)).toEqual(["a", "b"]);
  });
  test("random near 1 picks the last remaining candidate each time", () => {
    expect(chooseCanaries(agents, 2, () => 0.999).map((c) => c.updaterId)).toEqual(["e", "a"]); // Fisher-Yates: a and e swap, then the last slot (now a) is taken
  });
  test("canaries start unsuccessful and carry the hostname", () => {
    expect(chooseCanaries(agents, 1, () => 0)).toEqual([
      { updaterId: "a", hostname: "host-a", success: false },
    ]);
  });
  test("healthy agents first, unhealthy only to fill up", () => {
    const mixed = [agent("a", "g", START, false), agent("b", "g", START), agent("c", "g", START, false)];
    expect(chooseCanaries(mixed, 1, () => 0).map((c) => c.updaterId)).toEqual(["b"]);
    expect(chooseCanaries(mixed, 2, () => 0).map((c) => c.updaterId)).toEqual(["b", "a"]);
  });
  test("property: count = min(count, distinct agents), no duplicates, all from the group", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer(),
        (ids, count, seed) => {
          const list = [...ids, ...ids.slice(0, 2)].map((id, i) => agent(id, "g", START, i % 3 !== 0));
          const chosen = chooseCanaries(list, count, seededRandom(seed)).map((c) => c.updaterId);
          expect(chosen.length).toBe(Math.min(count, ids.length));
          expect(new Set(chosen).size).toBe(chosen.length);
          for (const id of chosen) expect(ids).toContain(id);
        },
      ),
      { numRuns: 200 },
    );
  });
  test("a misbehaving random (1, NaN, negative) still picks valid agents", () => {
    for (const r of [1, Number.NaN, -0.5, 7]) {
      const chosen = chooseCanaries(agents, 3, () => r);
      expect(chosen).toHaveLength(3);
      expect(new Set(chosen.map((c) => c.updaterId)).size).toBe(3);
    }
  });
});

describe("seededRandom", () => {
  test("deterministic and in [0, 1)", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
