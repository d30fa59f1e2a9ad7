import { expect, test } from "bun:test";
import { sameVersion } from "./same_version.ts";

// The one rule for "the same version" (the agent's and the rollout's copies disagreed on text that is not a
// version: the rollout's took "x" and "x", or "" and "", for the same version).
test.each([
  ["1.2.3", "1.2.3", true],
  ["v1.2.3", "1.2.3", true],
  ["1.2.3+build.7", "1.2.3", true],
  [" 1.2.3 ", "1.2.3", true],
  ["1.2.3-rc.1", "1.2.3", false],
  ["1.2.3", "1.2.4", false],
  ["1.2.3", "", false],
  ["", "", false],
  ["latest", "latest", false],
  ["x", "1.2.3", false],
  [undefined, "1.2.3", false],
  [undefined, undefined, false],
] as const)("sameVersion(%p, %p) is %p", (a, b, want) => {
  expect(sameVersion(a, b)).toBe(want);
  expect(sameVersion(b, a)).toBe(want);
});
