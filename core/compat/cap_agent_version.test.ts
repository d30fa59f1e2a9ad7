/**
 * Seed 001: "the agent must never exceed the Proxy or Auth Service version; the agent must always be no
 * more than one major version below [it]". Best practice: align the agent with the server.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareVersions, formatVersion, parseVersion, type SemVer } from "../version/mod.ts";
import { capAgentVersion, checkAgentVersion, checkCompat, DEFAULT_COMPAT_POLICY } from "./mod.ts";

const p = parseVersion;

describe("capAgentVersion (seed 001)", () => {
  const cases: [string, string, string, string, boolean, string[]][] = [
    // [rule, target, server, served, capped, reason contains]
    [
      "a target newer than the server is capped at it (major)",
      "17.0.1",
      "16.4.0",
      "16.4.0",
      true,
      ["never exceeds"],
    ],
    [
      "a target newer by a minor is capped",
      "16.5.0",
      "16.4.0",
      "16.4.0",
      true,
      ["capped at the server version"],
    ],
    [
      "a target newer by a patch is capped",
      "16.4.1",
      "16.4.0",
      "16.4.0",
      true,
      ["newer than the server 16.4.0"],
    ],
    [
      "a pre-release newer than the server is capped",
      "16.5.0-rc.1",
      "16.4.0",
      "16.4.0",
      true,
      ["never exceeds"],
    ],
    ["the server version itself is served", "16.4.0", "16.4.0", "16.4.0", false, ["within the server cap"]],
    [
      "a target one major below the server is served",
      "15.2.0",
      "16.4.0",
      "15.2.0",
      false,
      ["1 major behind"],
    ],
    ["an older minor of the same major is served", "16.1.0", "16.4.0", "16.1.0", false, ["both 16.x"]],
    [
      "a target more than one major below is raised to the server",
      "14.9.0",
      "16.4.0",
      "16.4.0",
      true,
      ["2 majors behind", "raised to the server version 16.4.0"],
    ],
    [
      "legacy: a target two minors below the server is raised",
      "4.1.0",
      "4.3.2",
      "4.3.2",
      true,
      ["2 minors behind", "raised"],
    ],
    [
      "a pre-release of the server's own release is below it and served",
      "16.4.0-rc.2",
      "16.4.0",
      "16.4.0-rc.2",
      false,
      ["pre-release"],
    ],
  ];
  for (const [rule, target, server, served, capped, says] of cases) {
    test(`${rule}: target ${target}, server ${server} -> ${served}`, () => {
      const d = capAgentVersion(p(target), p(server));
      expect(formatVersion(d.version)).toBe(served);
      expect(d.capped).toBe(capped);
      for (const s of says) expect(d.reason).toContain(s);
    });
  }

  test("with majorSkew 2, two majors below is served", () => {
    const d = capAgentVersion(p("14.9.0"), p("16.4.0"), { ...DEFAULT_COMPAT_POLICY, majorSkew: 2 });
    expect(formatVersion(d.version)).toBe("14.9.0");
    expect(d.capped).toBe(false);
  });

  test("property: the served version never exceeds the server and is compatible with it", () => {
    const v = fc
      .tuple(fc.integer({ min: 0, max: 20 }), fc.nat({ max: 5 }), fc.nat({ max: 3 }), fc.boolean())
      .map(
        ([major, minor, patch, pre]): SemVer => ({
          major,
          minor,
          patch,
          prerelease: pre ? ["rc", 1] : [],
          build: [],
        }),
      );
    fc.assert(
      fc.property(v, v, (target, server) => {
        const d = capAgentVersion(target, server);
        expect(compareVersions(d.version, server)).toBeLessThanOrEqual(0);
        expect(checkAgentVersion(server, d.version).compatible).toBe(true);
        expect(d.capped).toBe(compareVersions(d.version, target) !== 0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("checkAgentVersion (seed 001)", () => {
  const cases: [string, string, string, boolean, string][] = [
    ["an agent never exceeds the server, not even by a patch", "16.4.0", "16.4.1", false, "never exceeds"],
    [
      "an agent never exceeds the server, not even within the legacy line",
      "4.2.0",
      "4.2.1",
      false,
      "never exceeds",
    ],
    ["an agent equal to the server is fine", "16.4.0", "16.4.0", true, "both 16.4.0"],
    ["an agent one major below is fine", "16.4.0", "15.0.0", true, "agent 15.0.0 is 1 major behind"],
    ["an agent more than one major below is not", "16.4.0", "14.0.0", false, "upgrade the agent to 15.x"],
  ];
  for (const [rule, server, agent, compatible, says] of cases) {
    test(`${rule}: server ${server}, agent ${agent}`, () => {
      const r = checkAgentVersion(p(server), p(agent));
      expect(r.compatible).toBe(compatible);
      expect(r.reason).toContain(says);
    });
  }

  test("a client (tsh) of the same major may be newer than the server; an agent may not", () => {
    expect(checkCompat(p("16.4.0"), p("16.5.0")).compatible).toBe(true);
    expect(checkAgentVersion(p("16.4.0"), p("16.5.0")).compatible).toBe(false);
  });
});
