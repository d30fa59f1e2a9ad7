import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import semver from "semver";
import {
  compareVersions,
  equals,
  formatVersion,
  isPrerelease,
  parseVersion,
  type SemVer,
  sortVersions,
} from "./mod.ts";

const p = parseVersion;
const f = (vs: SemVer[]) => vs.map(formatVersion);

describe("compareVersions: semver 2.0 precedence", () => {
  test("the semver 2.0 spec's example chain, in order", () => {
    const chain = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "2.0.0",
      "2.1.0",
      "2.1.1",
    ].map(p);
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        expect(compareVersions(chain[i] as SemVer, chain[j] as SemVer)).toBe(i < j ? -1 : i > j ? 1 : 0);
      }
    }
  });

  const cases: [string, string, -1 | 0 | 1, string][] = [
    ["6.1.0", "6.7.0", -1, "minor"],
    ["6.10.0", "6.9.0", 1, "numbers compare numerically, not as text"],
    ["7.0.0", "6.99.99", 1, "major first"],
    ["7.0.0-rc.1", "7.0.0", -1, "a pre-release is lower than its release"],
    ["7.0.0-rc.1", "6.9.9", 1, "a pre-release is higher than the previous release"],
    ["1.0.0-2", "1.0.0-10", -1, "numeric identifiers compare numerically"],
    ["1.0.0-9", "1.0.0-a", -1, "numeric identifiers are lower than alphanumeric"],
    ["1.0.0-rc.99999999999999999999", "1.0.0-rc.9999999999999999999", 1, "huge numeric identifiers"],
    ["1.0.0-rc.99999999999999999999", "1.0.0-rc.x", -1, "huge numeric still below alphanumeric"],
    ["1.0.0-B", "1.0.0-a", -1, "alphanumeric identifiers compare in ASCII order"],
    ["1.0.0+build.1", "1.0.0+build.2", 0, "build metadata is ignored"],
    ["v6.1.0", "6.1.0", 0, "a leading v changes nothing"],
  ];
  for (const [a, b, want, why] of cases) {
    test(`${a} vs ${b}: ${why}`, () => {
      expect(compareVersions(p(a), p(b))).toBe(want);
      expect(compareVersions(p(b), p(a))).toBe((want === 0 ? 0 : -want) as -1 | 0 | 1);
      expect(equals(p(a), p(b))).toBe(want === 0);
    });
  }

  test("property: agrees with the semver npm package", () => {
    const num = fc.nat({ max: 20 });
    const ident = fc.oneof(num, fc.constantFrom("alpha", "beta", "rc", "a-1", "0a", "B"));
    const version = fc
      .tuple(
        num,
        num,
        num,
        fc.array(ident, { maxLength: 3 }),
        fc.array(fc.constantFrom("b1", "001"), { maxLength: 2 }),
      )
      .map(([major, minor, patch, prerelease, build]) =>
        formatVersion({ major, minor, patch, prerelease, build }),
      );
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(compareVersions(p(a), p(b))).toBe(semver.compare(a, b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("sortVersions, isPrerelease", () => {
  test("sortVersions sorts by precedence and leaves its input alone", () => {
    const input = ["7.0.0", "6.10.0", "7.0.0-rc.1", "6.9.0", "5.0.0"].map(p);
    const before = f(input);
    expect(f(sortVersions(input))).toEqual(["5.0.0", "6.9.0", "6.10.0", "7.0.0-rc.1", "7.0.0"]);
    expect(f(input)).toEqual(before);
  });

  test("isPrerelease", () => {
    expect(isPrerelease(p("7.0.0-rc.1"))).toBe(true);
    expect(isPrerelease(p("7.0.0"))).toBe(false);
    expect(isPrerelease(p("7.0.0+build.5"))).toBe(false);
  });
});
