/**
 * Every compatibility rule of seeds 003 (Teleport after/before 5.0) and 004 (the older 2.x rules), as a
 * named case, plus the choices DESIGN §1 leaves to us (newer clients, crossing 4.x -> 5.x, legacy majors).
 */
import { describe, expect, test } from "bun:test";
import { parseVersion } from "../version/mod.ts";
import { type CompatPolicy, checkCompat, DEFAULT_COMPAT_POLICY, isStepCompatible } from "./mod.ts";

const p = parseVersion;

type Case = {
  rule: string;
  server: string;
  client: string;
  compatible: boolean;
  /** Substrings the reason must contain. */
  says: string[];
  releases?: string[];
  policy?: Partial<CompatPolicy>;
};

function run(cases: Case[]): void {
  for (const c of cases) {
    test(`${c.rule}: server ${c.server}, client ${c.client} -> ${c.compatible ? "compatible" : "not compatible"}`, () => {
      const policy = { ...DEFAULT_COMPAT_POLICY, ...c.policy };
      const r = checkCompat(p(c.server), p(c.client), policy, c.releases?.map(p));
      expect(r.compatible).toBe(c.compatible);
      for (const s of c.says) expect(r.reason).toContain(s);
      expect(Object.keys(r).sort()).toEqual(["compatible", "reason"]);
    });
  }
}

describe("seed 003, after 5.0.0 (modern line)", () => {
  run([
    {
      rule: "patch versions are always compatible (5.0.1 with 5.0.3)",
      server: "5.0.1",
      client: "5.0.3",
      compatible: true,
      says: ["both 5.x", "always compatible"],
    },
    {
      rule: "patch versions are always compatible (5.0.3 with 5.0.1)",
      server: "5.0.3",
      client: "5.0.1",
      compatible: true,
      says: ["always compatible"],
    },
    {
      rule: "minor versions are always compatible (6.1.0 with 6.7.0)",
      server: "6.1.0",
      client: "6.7.0",
      compatible: true,
      says: ["both 6.x", "minor and patch versions of one major are always compatible"],
    },
    {
      rule: "minor versions are always compatible (6.7.0 with 6.1.0)",
      server: "6.7.0",
      client: "6.1.0",
      compatible: true,
      says: ["always compatible"],
    },
    {
      rule: "a major works with the previous major: a 6.x proxy with 5.x nodes",
      server: "6.0.0",
      client: "5.9.2",
      compatible: true,
      says: ["1 major behind", "major N works with N-1"],
    },
    {
      rule: "a major works with the previous major: a 6.x proxy with 5.x tsh (any minors)",
      server: "6.7.3",
      client: "5.0.0",
      compatible: true,
      says: ["major N works with N-1"],
    },
    {
      rule: "must not go from 5.x straight to 7.x: a 7.x server does not work with 5.x",
      server: "7.0.0",
      client: "5.9.2",
      compatible: false,
      says: ["2 majors behind", "at most 1 major allowed", "upgrade the client to 6.x or newer"],
    },
    {
      rule: "we don't guarantee that a 7.x tsh works with a 5.x proxy",
      server: "5.4.0",
      client: "7.0.0",
      compatible: false,
      says: ["newer major", "not guaranteed"],
    },
    {
      rule: "a client one major newer than the server is not guaranteed either (6.x tsh, 5.x proxy)",
      server: "5.4.0",
      client: "6.0.0",
      compatible: false,
      says: ["newer major than the server 5.4.0", "not guaranteed"],
    },
    {
      rule: "the same version is compatible",
      server: "v17.0.1",
      client: "17.0.1",
      compatible: true,
      says: ["both 17.0.1"],
    },
    {
      rule: "pre-releases compare by their numbers, and the reason warns about them",
      server: "7.0.0-rc.1",
      client: "6.3.0",
      compatible: true,
      says: ["major N works with N-1", "7.0.0-rc.1 is a pre-release, not for production"],
    },
  ]);
});

describe("seed 003, before 5.0.0 (legacy line)", () => {
  run([
    {
      rule: "only patch versions are always compatible (4.0.1 with 4.0.3)",
      server: "4.0.1",
      client: "4.0.3",
      compatible: true,
      says: ["both 4.0.x", "patch versions are always compatible"],
    },
    {
      rule: "only patch versions are always compatible (4.0.3 with 4.0.1)",
      server: "4.0.3",
      client: "4.0.1",
      compatible: true,
      says: ["patch versions are always compatible"],
    },
    {
      rule: "minor versions are compatible with the previous minor (4.2 with 4.1)",
      server: "4.2.0",
      client: "4.1.3",
      compatible: true,
      says: ["1 minor behind", "before 5.0 minor N works with N-1"],
    },
    {
      rule: "must not go from 4.1.x straight to 4.3.x: 4.3 does not work with 4.1",
      server: "4.3.0",
      client: "4.1.9",
      compatible: false,
      says: ["2 minors behind", "upgrade the client through 4.2.x first"],
    },
    {
      rule: "tsh/tctl may not be compatible across versions: a client newer than its server is refused",
      server: "4.1.0",
      client: "4.2.0",
      compatible: false,
      says: ["newer minor than the server", "must not be newer than its server"],
    },
    {
      rule: "tsh/tctl may not be compatible across versions: an older client is accepted with a warning",
      server: "4.2.0",
      client: "4.1.0",
      compatible: true,
      says: ["tsh/tctl older than the server may still refuse"],
    },
  ]);
});

describe("seed 004 (older 2.x rules), where they do not conflict with 003", () => {
  run([
    {
      rule: "patch versions are always compatible (2.4.1 with 2.4.3)",
      server: "2.4.1",
      client: "2.4.3",
      compatible: true,
      says: ["patch versions are always compatible"],
    },
    {
      rule: "other versions are compatible with their previous release (2.4 with 2.3)",
      server: "2.4.0",
      client: "2.3.5",
      compatible: true,
      says: ["1 minor behind"],
    },
    {
      rule: "must not upgrade from 2.3 straight to 2.5",
      server: "2.5.0",
      client: "2.3.0",
      compatible: false,
      says: ["2 minors behind", "through 2.4.x first"],
    },
    {
      rule: "the release before 3.0 is the last 2.x minor: 3.0 works with it",
      server: "3.0.0",
      client: "2.7.1",
      releases: ["2.6.0", "2.7.1", "3.0.0"],
      compatible: true,
      says: ["on the last 2.x minor", "the release before the server 3.0.0"],
    },
    {
      rule: "3.0 does not work with a 2.x that is not the last minor",
      server: "3.0.0",
      client: "2.6.0",
      releases: ["2.6.0", "2.7.1", "3.0.0"],
      compatible: false,
      says: ["not on the last 2.x minor (2.7)", "upgrade the client through 2.7.x first"],
    },
    {
      rule: "3.1 is two releases after 2.7: not compatible",
      server: "3.1.0",
      client: "2.7.1",
      releases: ["2.7.1"],
      compatible: false,
      says: ["2 minors behind", "through 3.0.x first"],
    },
    {
      rule: "two legacy majors apart: not compatible",
      server: "4.0.0",
      client: "2.7.1",
      compatible: false,
      says: ["2 majors behind", "works only with the one before it"],
    },
    {
      rule: "a newer legacy major client: not compatible",
      server: "3.2.0",
      client: "4.0.0",
      compatible: false,
      says: ["newer major"],
    },
  ]);
});

describe("crossing the line: 4.x (legacy) and 5.x (modern)", () => {
  run([
    {
      rule: "a 5.x server works with clients on the last 4.x minor",
      server: "5.0.0",
      client: "4.4.2",
      releases: ["4.3.0", "4.4.2", "5.0.0"],
      compatible: true,
      says: ["on the last 4.x minor", "1 major behind", "5.0 follows 4.4"],
    },
    {
      rule: "any 5.x minor works with the last 4.x minor (minors of one major are compatible)",
      server: "5.3.1",
      client: "4.4.2",
      releases: ["4.4.2"],
      compatible: true,
      says: ["on the last 4.x minor"],
    },
    {
      rule: "without a release list the client is assumed to be on the last 4.x minor",
      server: "5.0.0",
      client: "4.2.0",
      compatible: true,
      says: ["assumed: no release list given"],
    },
    {
      rule: "a 5.x server does not work with a 4.x client that is not on the last minor",
      server: "5.0.0",
      client: "4.2.0",
      releases: ["4.2.0", "4.3.0", "4.4.0"],
      compatible: false,
      says: ["not on the last 4.x minor (4.4)", "upgrade the client through 4.3.x first"],
    },
    {
      rule: "pre-releases do not make a minor the last one",
      server: "5.0.0",
      client: "4.4.0",
      releases: ["4.5.0-rc.1"],
      compatible: true,
      says: ["on the last 4.x minor"],
    },
    {
      rule: "a 6.x server is two majors after 4.x: not compatible",
      server: "6.0.0",
      client: "4.4.0",
      compatible: false,
      says: ["2 majors behind", "upgrade the client to 5.x or newer"],
    },
    {
      rule: "a 5.x client with a 4.x server is a newer major: not guaranteed",
      server: "4.4.0",
      client: "5.0.0",
      compatible: false,
      says: ["newer major", "not guaranteed"],
    },
  ]);
});

describe("the threshold and the skews are parameters", () => {
  run([
    {
      rule: "modernMajor 7 makes 6.x legacy: 6.3 does not work with 6.1",
      server: "6.3.0",
      client: "6.1.0",
      policy: { modernMajor: 7 },
      compatible: false,
      says: ["2 minors behind", "before 7.0"],
    },
    {
      rule: "modernMajor 0 makes 4.x modern: 4.3 works with 4.1",
      server: "4.3.0",
      client: "4.1.0",
      policy: { modernMajor: 0 },
      compatible: true,
      says: ["both 4.x"],
    },
    {
      rule: "majorSkew 2: 7.x works with 5.x",
      server: "7.0.0",
      client: "5.1.0",
      policy: { majorSkew: 2 },
      compatible: true,
      says: ["2 majors behind", "major N works with N-1 to N-2"],
    },
    {
      rule: "majorSkew 2: 8.x does not work with 5.x",
      server: "8.0.0",
      client: "5.1.0",
      policy: { majorSkew: 2 },
      compatible: false,
      says: ["at most 2 majors allowed", "upgrade the client to 6.x or newer"],
    },
    {
      rule: "majorSkew 2: a 6.x server works with the last 4.x minor",
      server: "6.0.0",
      client: "4.4.0",
      policy: { majorSkew: 2 },
      compatible: true,
      says: ["on the last 4.x minor"],
    },
    {
      rule: "majorSkew 3: a 6.x server still does not work with 3.x (legacy steps by minor)",
      server: "6.0.0",
      client: "3.2.0",
      policy: { majorSkew: 3 },
      compatible: false,
      says: ["before 4.x"],
    },
    {
      rule: "legacyMinorSkew 2: 4.3 works with 4.1",
      server: "4.3.0",
      client: "4.1.0",
      policy: { legacyMinorSkew: 2 },
      compatible: true,
      says: ["2 minors behind", "minor N works with N-1 to N-2"],
    },
    {
      rule: "legacyMinorSkew 2: 3.1 works with the last 2.x minor",
      server: "3.1.0",
      client: "2.7.0",
      policy: { legacyMinorSkew: 2 },
      compatible: true,
      says: ["on the last 2.x minor"],
    },
  ]);

  test("an invalid policy is a RangeError naming the field", () => {
    const bad = [
      { ...DEFAULT_COMPAT_POLICY, majorSkew: 0 },
      { ...DEFAULT_COMPAT_POLICY, legacyMinorSkew: 1.5 },
      { ...DEFAULT_COMPAT_POLICY, modernMajor: -1 },
    ];
    expect(() => checkCompat(p("6.0.0"), p("5.0.0"), bad[0])).toThrow(
      "majorSkew must be an integer >= 1, got 0",
    );
    expect(() => checkCompat(p("6.0.0"), p("5.0.0"), bad[1])).toThrow(RangeError);
    expect(() => checkCompat(p("6.0.0"), p("5.0.0"), bad[2])).toThrow("modernMajor");
  });

  test("the defaults are Teleport's: 5, 1, 1 (and frozen)", () => {
    expect(DEFAULT_COMPAT_POLICY).toEqual({ modernMajor: 5, majorSkew: 1, legacyMinorSkew: 1 });
    expect(Object.isFrozen(DEFAULT_COMPAT_POLICY)).toBe(true);
  });
});

describe("isStepCompatible: one hop, up or down", () => {
  const cases: [string, string, boolean, string][] = [
    ["5.2.0", "6.9.0", true, "to the next major"],
    ["5.2.0", "7.1.0", false, "5.x straight to 7.x is a skipped step (seed 003)"],
    ["7.1.0", "5.2.0", false, "nor down"],
    ["6.1.0", "6.7.0", true, "a minor upgrade in a modern major is one hop"],
    ["6.3.0", "6.1.0", true, "a modern minor downgrade"],
    ["6.1.0", "5.9.0", true, "a downgrade to the previous major"],
    ["4.1.0", "4.2.0", true, "the next legacy minor"],
    ["4.1.0", "4.3.0", false, "4.1.x straight to 4.3.x is a skipped step (seed 003)"],
    ["2.3.0", "2.5.0", false, "2.3 straight to 2.5 is a skipped step (seed 004)"],
    ["4.0.1", "4.0.3", true, "a legacy patch"],
    ["6.0.0", "6.0.0", true, "no hop at all"],
    ["6.3.0", "7.0.0-rc.1", true, "to a pre-release of the next major"],
  ];
  for (const [a, b, want, why] of cases) {
    test(`${a} -> ${b}: ${why}`, () => {
      expect(isStepCompatible(p(a), p(b))).toBe(want);
      expect(isStepCompatible(p(b), p(a))).toBe(want); // compatibility of a hop is symmetric
    });
  }
});
