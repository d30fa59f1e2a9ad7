import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { formatVersion, parseVersion, type SemVer, tryParseVersion } from "./mod.ts";

const sv = (
  major: number,
  minor: number,
  patch: number,
  prerelease: (string | number)[] = [],
  build: string[] = [],
) => ({ major, minor, patch, prerelease, build }) satisfies SemVer;

describe("parseVersion: valid semver 2.0", () => {
  const cases: [string, SemVer, string][] = [
    ["6.1.0", sv(6, 1, 0), "6.1.0"],
    ["0.0.0", sv(0, 0, 0), "0.0.0"],
    ["v6.1.0 (a leading v is accepted, never printed)", sv(6, 1, 0), "6.1.0"],
    ["V17.0.1", sv(17, 0, 1), "17.0.1"],
    ["  5.9.2\n (surrounding whitespace ignored)", sv(5, 9, 2), "5.9.2"],
    ["7.0.0-rc.1", sv(7, 0, 0, ["rc", 1]), "7.0.0-rc.1"],
    ["1.0.0-alpha.beta", sv(1, 0, 0, ["alpha", "beta"]), "1.0.0-alpha.beta"],
    ["1.0.0-0.3.7", sv(1, 0, 0, [0, 3, 7]), "1.0.0-0.3.7"],
    ["1.0.0-x-y-z.--", sv(1, 0, 0, ["x-y-z", "--"]), "1.0.0-x-y-z.--"],
    ["1.0.0-0abc (alphanumeric may start with 0)", sv(1, 0, 0, ["0abc"]), "1.0.0-0abc"],
    ["1.0.0+20130313144700", sv(1, 0, 0, [], ["20130313144700"]), "1.0.0+20130313144700"],
    [
      "1.0.0-beta+exp.sha.5114f85",
      sv(1, 0, 0, ["beta"], ["exp", "sha", "5114f85"]),
      "1.0.0-beta+exp.sha.5114f85",
    ],
    ["1.0.0+001 (build identifiers may have leading zeros)", sv(1, 0, 0, [], ["001"]), "1.0.0+001"],
    [
      "1.0.0-rc.99999999999999999999 (huge numeric pre-release kept as digits)",
      sv(1, 0, 0, ["rc", "99999999999999999999"]),
      "1.0.0-rc.99999999999999999999",
    ],
  ];
  for (const [input, expected, printed] of cases) {
    test(input, () => {
      const text = input.replace(/ \(.*\)$/s, "");
      const v = parseVersion(text);
      expect(v).toEqual(expected);
      expect(formatVersion(v)).toBe(printed);
      expect(tryParseVersion(text)).toEqual(expected);
    });
  }
});

describe("parseVersion: invalid input throws SyntaxError naming the input", () => {
  const cases: [string, string][] = [
    ["5.x", 'invalid version "5.x": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["x.y", 'invalid version "x.y": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["", 'invalid version "": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1", 'invalid version "6.1": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6", 'invalid version "6": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0.1", 'invalid version "6.1.0.1": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["vv6.1.0", 'invalid version "vv6.1.0": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["=6.1.0", 'invalid version "=6.1.0": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0-", 'invalid version "6.1.0-": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0+", 'invalid version "6.1.0+": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0-rc..1", 'invalid version "6.1.0-rc..1": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0-rc_1", 'invalid version "6.1.0-rc_1": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["-1.0.0", 'invalid version "-1.0.0": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["6.1.0 7.0.0", 'invalid version "6.1.0 7.0.0": expected MAJOR.MINOR.PATCH (semver 2.0)'],
    ["01.2.3", 'invalid version "01.2.3": numeric identifiers must not have leading zeros (semver 2.0)'],
    ["1.02.3", 'invalid version "1.02.3": numeric identifiers must not have leading zeros (semver 2.0)'],
    ["1.2.03", 'invalid version "1.2.03": numeric identifiers must not have leading zeros (semver 2.0)'],
    [
      "1.2.3-rc.01",
      'invalid version "1.2.3-rc.01": numeric identifiers must not have leading zeros (semver 2.0)',
    ],
    ["99999999999999999999.0.0", 'invalid version "99999999999999999999.0.0": a number is too large'],
  ];
  for (const [input, message] of cases) {
    test(JSON.stringify(input), () => {
      expect(() => parseVersion(input)).toThrow(SyntaxError);
      expect(() => parseVersion(input)).toThrow(message);
      expect(tryParseVersion(input)).toBeUndefined();
    });
  }

  test("a non-string throws TypeError", () => {
    expect(() => parseVersion(6 as unknown as string)).toThrow(TypeError);
    expect(() => parseVersion(6 as unknown as string)).toThrow(
      "invalid version: expected a string, got number",
    );
    expect(() => parseVersion(null as unknown as string)).toThrow("got null");
    expect(tryParseVersion(undefined as unknown as string)).toBeUndefined();
  });
});

describe("formatVersion", () => {
  test("never prints a leading v", () => {
    expect(formatVersion(parseVersion("v1.2.3-rc.1+b.7"))).toBe("1.2.3-rc.1+b.7");
  });

  test("property: format(parse(s)) == s for every valid version without a v; parse(format(v)) == v", () => {
    const numeric = fc.nat({ max: 1_000_000 });
    const alnum = fc.stringMatching(/^[0-9A-Za-z-]{0,6}[A-Za-z-][0-9A-Za-z-]{0,6}$/);
    const pre = fc.array(fc.oneof(numeric, alnum), { maxLength: 3 });
    const build = fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,8}$/), { maxLength: 3 });
    fc.assert(
      fc.property(numeric, numeric, numeric, pre, build, (major, minor, patch, prerelease, b) => {
        const v: SemVer = { major, minor, patch, prerelease, build: b };
        const s = formatVersion(v);
        expect(parseVersion(s)).toEqual(v);
        expect(formatVersion(parseVersion(`v${s}`))).toBe(s);
      }),
    );
  });
});
