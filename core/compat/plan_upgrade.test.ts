/**
 * Upgrade plans (DESIGN §1): never skip a compatibility step, newest patch at each step, no pre-release
 * steps, the exact target last; downgrades are one compatible hop or refused.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { UpkeepError } from "../errors.ts";
import { compareVersions, formatVersion, isPrerelease, parseVersion, type SemVer } from "../version/mod.ts";
import { type CompatPolicy, DEFAULT_COMPAT_POLICY, isStepCompatible, planUpgrade } from "./mod.ts";

const p = parseVersion;
const list = (s: string) => (s === "" ? [] : s.split(",").map(p));

function plan(from: string, to: string, available: string, policy?: Partial<CompatPolicy>): string[] {
  return planUpgrade(p(from), p(to), list(available), { ...DEFAULT_COMPAT_POLICY, ...policy }).map(
    formatVersion,
  );
}

function refusal(from: string, to: string, available: string, policy?: Partial<CompatPolicy>): UpkeepError {
  try {
    plan(from, to, available, policy);
  } catch (e) {
    if (e instanceof UpkeepError) return e;
    throw e;
  }
  throw new Error(`expected ${from} -> ${to} to be refused`);
}

describe("planUpgrade: plans", () => {
  const cases: [string, string, string, string, string[], Partial<CompatPolicy>?][] = [
    // [rule, from, to, available, steps, policy]
    ["from == to: no steps", "7.1.0", "7.1.0", "6.0.0,7.1.0", []],
    ["from == to ignores a leading v and build metadata", "v7.1.0+b1", "7.1.0", "", []],
    [
      "5.x -> 7.x goes through the newest 6.x (seed 003)",
      "5.2.0",
      "7.1.0",
      "6.0.0,6.3.1,7.1.0",
      ["6.3.1", "7.1.0"],
    ],
    ["the target need not be listed", "5.2.0", "7.1.0", "6.0.0,6.3.1", ["6.3.1", "7.1.0"]],
    [
      "the newest 6.x, in any order, ignoring duplicates",
      "5.2.0",
      "7.1.0",
      "6.3.1,6.0.0,6.3.1,6.2.9",
      ["6.3.1", "7.1.0"],
    ],
    [
      "5.x -> 8.x goes through 6.x and 7.x",
      "5.2.0",
      "8.0.1",
      "6.1.0,6.4.0,7.0.0,7.2.2,8.0.0",
      ["6.4.0", "7.2.2", "8.0.1"],
    ],
    ["versions above the target are never steps", "5.2.0", "7.1.0", "6.3.1,7.2.0,8.0.0", ["6.3.1", "7.1.0"]],
    ["a patch upgrade in a modern major is one hop", "6.1.0", "6.1.4", "6.1.1,6.1.2,6.1.3", ["6.1.4"]],
    ["a minor upgrade in a modern major is one hop", "6.1.0", "6.7.0", "6.2.0,6.3.0,6.7.0", ["6.7.0"]],
    ["the next major is one hop", "5.9.2", "6.1.0", "6.0.0,6.1.0", ["6.1.0"]],
    [
      "4.1 -> 4.3 goes through 4.2, its newest patch (seed 003)",
      "4.1.0",
      "4.3.0",
      "4.2.0,4.2.5,4.3.0",
      ["4.2.5", "4.3.0"],
    ],
    ["2.3 -> 2.5 goes through 2.4 (seed 004)", "2.3.0", "2.5.1", "2.4.0,2.4.2,2.5.0", ["2.4.2", "2.5.1"]],
    ["legacy patches are one hop (4.0.1 -> 4.0.3)", "4.0.1", "4.0.3", "4.0.2", ["4.0.3"]],
    ["the next legacy minor is one hop", "4.1.0", "4.2.0", "4.2.5", ["4.2.0"]],
    [
      "4.x -> 5.x climbs every 4.x minor to the last, then crosses",
      "4.1.0",
      "5.1.0",
      "4.2.0,4.3.1,4.4.2,5.0.0,5.1.0",
      ["4.2.0", "4.3.1", "4.4.2", "5.1.0"],
    ],
    ["from the last 4.x minor, 5.x is one hop", "4.4.2", "5.3.0", "4.4.2,5.0.0,5.3.0", ["5.3.0"]],
    ["4.x -> 6.x crosses to the newest 5.x", "4.4.2", "6.0.0", "5.0.0,5.4.1", ["5.4.1", "6.0.0"]],
    ["3.x -> 4.x goes through 4.0", "3.2.0", "4.1.0", "3.1.0,4.0.0,4.0.3,4.1.0", ["4.0.3", "4.1.0"]],
    ["pre-releases are never steps", "5.2.0", "7.1.0", "6.3.1,6.4.0-rc.1,7.0.0-beta.1", ["6.3.1", "7.1.0"]],
    ["a pre-release target is allowed when explicit", "6.3.0", "7.0.0-rc.1", "7.0.0-beta.1", ["7.0.0-rc.1"]],
    [
      "a pre-release target after a stable step",
      "5.2.0",
      "7.0.0-rc.1",
      "6.3.1,6.4.0-rc.1",
      ["6.3.1", "7.0.0-rc.1"],
    ],
    ["from a pre-release to its release is one hop", "7.0.0-rc.1", "7.0.0", "", ["7.0.0"]],
    ["the target keeps its build metadata", "6.1.0", "6.2.0+b7", "", ["6.2.0+b7"]],
    ["downgrade within a modern major: one hop (6.3 -> 6.1)", "6.3.0", "6.1.0", "6.2.0", ["6.1.0"]],
    ["downgrade to the previous major: one hop (6.1 -> 5.9)", "6.1.0", "5.9.0", "", ["5.9.0"]],
    ["legacy downgrade by one minor: one hop", "4.3.0", "4.2.0", "", ["4.2.0"]],
    ["majorSkew 2: 5.x -> 7.x is one hop", "5.2.0", "7.1.0", "6.3.1", ["7.1.0"], { majorSkew: 2 }],
    [
      "majorSkew 2: 5.x -> 9.x steps two majors",
      "5.2.0",
      "9.0.0",
      "6.0.0,7.0.0,7.1.0,8.0.0",
      ["7.1.0", "9.0.0"],
      { majorSkew: 2 },
    ],
    [
      "majorSkew 2: a missing 7.x falls back to 6.x",
      "5.2.0",
      "9.0.0",
      "6.0.0,8.0.0",
      ["6.0.0", "8.0.0", "9.0.0"],
      { majorSkew: 2 },
    ],
    [
      "legacyMinorSkew 2: 4.1 -> 4.3 is one hop",
      "4.1.0",
      "4.3.0",
      "4.2.0",
      ["4.3.0"],
      { legacyMinorSkew: 2 },
    ],
    [
      "modernMajor 7: 6.1 -> 6.3 goes through 6.2",
      "6.1.0",
      "6.3.0",
      "6.2.0,6.2.1",
      ["6.2.1", "6.3.0"],
      { modernMajor: 7 },
    ],
  ];
  for (const [rule, from, to, available, steps, policy] of cases) {
    test(`${rule}: ${from} -> ${to} [${available}] = [${steps.join(", ")}]`, () => {
      expect(plan(from, to, available, policy)).toEqual(steps);
    });
  }
});

describe("planUpgrade: refusals (E_NO_PLAN, naming the missing step)", () => {
  const cases: [string, string, string, string, string, Partial<CompatPolicy>?][] = [
    [
      "no 6.x to go through",
      "5.2.0",
      "7.1.0",
      "7.0.0,7.1.0",
      "no 6.x release in the available versions: 5.2.0 -> 7.1.0 must go through 6.x",
    ],
    [
      "only a 6.x pre-release to go through",
      "5.2.0",
      "7.1.0",
      "6.0.0-rc.1",
      "no 6.x release in the available versions: 5.2.0 -> 7.1.0 must go through 6.x",
    ],
    [
      "a 6.x above the target does not help",
      "5.2.0",
      "7.1.0",
      "",
      "no 6.x release in the available versions: 5.2.0 -> 7.1.0 must go through 6.x",
    ],
    [
      "the second step is missing",
      "5.2.0",
      "8.0.0",
      "6.1.0",
      "no 7.x release in the available versions: 5.2.0 -> 8.0.0 must go through 7.x",
    ],
    [
      "no 4.2.x to go through",
      "4.1.0",
      "4.3.0",
      "4.3.0,4.1.5",
      "no 4.2.x release in the available versions: 4.1.0 -> 4.3.0 must go through 4.2.x",
    ],
    [
      "a gap in the 4.x minors before crossing to 5.x",
      "4.1.0",
      "5.1.0",
      "4.2.0,4.4.2,5.0.0",
      "no 4.3.x release in the available versions: 4.1.0 -> 5.1.0 must go through 4.3.x",
    ],
    [
      "no 4.0.x after the last 3.x",
      "3.2.0",
      "4.1.0",
      "4.1.0",
      "no 4.0.x release in the available versions: 3.2.0 -> 4.1.0 must go through 4.0.x",
    ],
    [
      "no 5.x between the last 4.x and 6.x",
      "4.4.0",
      "6.0.0",
      "",
      "no 5.x release in the available versions: 4.4.0 -> 6.0.0 must go through 5.x",
    ],
    [
      "majorSkew 2 names both majors it could go through",
      "5.2.0",
      "9.0.0",
      "8.0.0",
      "no 6.x to 7.x release in the available versions: 5.2.0 -> 9.0.0 must go through 6.x to 7.x",
      { majorSkew: 2 },
    ],
    [
      "a downgrade over two majors is refused",
      "7.3.0",
      "5.1.0",
      "6.0.0",
      "cannot downgrade 7.3.0 -> 5.1.0: client 5.1.0 is 2 majors behind the server 7.3.0",
    ],
    [
      "a legacy downgrade over two minors is refused",
      "4.3.0",
      "4.1.0",
      "4.2.0",
      "cannot downgrade 4.3.0 -> 4.1.0: client 4.1.0 is 2 minors behind the server 4.3.0",
    ],
  ];
  for (const [rule, from, to, available, message, policy] of cases) {
    test(`${rule}: ${from} -> ${to} [${available}]`, () => {
      const e = refusal(from, to, available, policy);
      expect(e.code).toBe("E_NO_PLAN");
      expect(e.exitCode).toBe(1);
      expect(e.message).toContain(message);
      expect(e.message).not.toContain("\n");
    });
  }

  test("a downgrade refusal says downgrades are a single hop", () => {
    expect(refusal("7.3.0", "5.1.0", "6.0.0").message).toContain(
      "a downgrade is only ever one compatible hop",
    );
  });
});

// ---- properties -------------------------------------------------------------------------------------

const versionArb = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.nat({ max: 4 }), fc.nat({ max: 3 }), fc.nat({ max: 9 }))
  .map(
    ([major, minor, patch, r]): SemVer => ({
      major,
      minor,
      patch,
      prerelease: r === 0 ? ["rc", patch] : [], // about one in ten is a pre-release
      build: [],
    }),
  );
const policyArb = fc.oneof(
  fc.constant(DEFAULT_COMPAT_POLICY),
  fc.record({
    modernMajor: fc.integer({ min: 1, max: 9 }),
    majorSkew: fc.integer({ min: 1, max: 3 }),
    legacyMinorSkew: fc.integer({ min: 1, max: 3 }),
  }),
);
const scenario = fc.record({
  from: versionArb,
  to: versionArb,
  available: fc.array(versionArb, { maxLength: 40 }),
  policy: policyArb,
});

type Attempt = { steps: SemVer[] } | { error: unknown };
function attempt(from: SemVer, to: SemVer, available: SemVer[], policy: CompatPolicy): Attempt {
  try {
    return { steps: planUpgrade(from, to, available, policy) };
  } catch (error) {
    return { error };
  }
}

/** An independent reading of "skips no step" for one upgrade hop a -> b (a < b). */
function skipsNoStep(a: SemVer, b: SemVer, policy: CompatPolicy, known: SemVer[]): boolean {
  const modern = (v: SemVer) => v.major >= policy.modernMajor;
  const lastMinorOf = (v: SemVer) =>
    Math.max(v.minor, ...known.filter((k) => k.major === v.major && !isPrerelease(k)).map((k) => k.minor));
  if (modern(a)) return b.major - a.major <= policy.majorSkew;
  if (a.major === b.major) return modern(b) || b.minor - a.minor <= policy.legacyMinorSkew;
  // Leaving a legacy major: only from its last minor, to the next major's first minors (or the modern line).
  if (a.minor !== lastMinorOf(a)) return false;
  if (modern(b)) return a.major === policy.modernMajor - 1 && b.major - a.major <= policy.majorSkew;
  return b.major === a.major + 1 && b.minor + 1 <= policy.legacyMinorSkew;
}

/** Breadth-first search over upward compatible hops: the fewest hops, or undefined when none. */
function shortest(from: SemVer, to: SemVer, available: SemVer[], policy: CompatPolicy): number | undefined {
  const known = [...available, from, to];
  const nodes = available.filter(
    (v) => !isPrerelease(v) && compareVersions(v, from) > 0 && compareVersions(v, to) < 0,
  );
  let frontier = [from];
  const seen = new Set<string>([formatVersion(from)]);
  for (let hops = 1; frontier.length > 0; hops++) {
    const next: SemVer[] = [];
    for (const v of frontier) {
      if (isStepCompatible(v, to, policy, known)) return hops;
      for (const w of nodes) {
        const key = formatVersion(w);
        if (!seen.has(key) && compareVersions(w, v) > 0 && isStepCompatible(v, w, policy, known)) {
          seen.add(key);
          next.push(w);
        }
      }
    }
    frontier = next;
  }
  return undefined;
}

describe("planUpgrade: properties", () => {
  test("a plan ends at the target, every hop is compatible and skips no step, no pre-release but the target", () => {
    fc.assert(
      fc.property(scenario, ({ from, to, available, policy }) => {
        const r = attempt(from, to, available, policy);
        if ("error" in r) {
          expect(r.error).toBeInstanceOf(UpkeepError);
          expect((r.error as UpkeepError).code).toBe("E_NO_PLAN");
          return;
        }
        const { steps } = r;
        const known = [...available, from, to];
        const order = compareVersions(from, to);
        if (order === 0) return expect(steps).toEqual([]);
        expect(steps.at(-1)).toBe(to);
        if (order > 0) return expect(steps).toHaveLength(1); // downgrades: one hop
        let prev = from;
        for (const [i, step] of steps.entries()) {
          expect(compareVersions(step, prev)).toBe(1);
          expect(isStepCompatible(prev, step, policy, known)).toBe(true);
          expect(skipsNoStep(prev, step, policy, known)).toBe(true);
          if (i < steps.length - 1) {
            expect(isPrerelease(step)).toBe(false);
            expect(available).toContain(step);
            // newest patch of its line: nothing newer on the same line below the target
            const newer = available.filter(
              (v) =>
                !isPrerelease(v) &&
                v.major === step.major &&
                (step.major >= policy.modernMajor || v.minor === step.minor) &&
                compareVersions(v, step) > 0 &&
                compareVersions(v, to) < 0,
            );
            expect(newer).toEqual([]);
          }
          prev = step;
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("a plan exists exactly when some chain of compatible hops exists, and has the fewest hops", () => {
    fc.assert(
      fc.property(scenario, ({ from, to, available, policy }) => {
        fc.pre(compareVersions(from, to) < 0);
        const r = attempt(from, to, available, policy);
        const best = shortest(from, to, available, policy);
        if (best === undefined) expect("error" in r).toBe(true);
        else {
          expect("steps" in r).toBe(true);
          if ("steps" in r) expect(r.steps).toHaveLength(best);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("with every line released, every upgrade has a plan", () => {
    const all: SemVer[] = [];
    for (let major = 1; major <= 9; major++) {
      for (let minor = 0; minor <= 4; minor++)
        all.push({ major, minor, patch: 0, prerelease: [], build: [] });
    }
    fc.assert(
      fc.property(versionArb, versionArb, policyArb, (from, to, policy) => {
        fc.pre(compareVersions(from, to) < 0);
        const steps = planUpgrade(from, to, all, policy);
        expect(steps.at(-1)).toBe(to);
      }),
      { numRuns: 2000 },
    );
  });
});
