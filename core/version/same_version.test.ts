import { expect, test } from "bun:test";
import { sameVersion } from "./same_version.ts";

// The one rule for "the same version" (the agent's and the rollout's copies disagreed on text that is not a
// version: the rollout's took "x" and "x", or "" and "", for the same version). Both orders are checked.
const same = [
  ["1.2.3", "1.2.3"],
  ["v1.2.3", "1.2.3"],
  ["1.2.3+build.7", "1.2.3"],
  [" 1.2.3 ", "1.2.3"],
] as const;
const notSame = [
  ["1.2.3-rc.1", "1.2.3"],
  ["1.2.3", "1.2.4"],
  ["1.2.3", ""],
  ["", ""],
  ["latest", "latest"],
  ["x", "1.2.3"],
  [undefined, "1.2.3"],
  [undefined, undefined],
] as const;

test.each(same)("%p and %p name the same version", (a, b) => {
  expect([sameVersion(a, b), sameVersion(b, a)]).toEqual([true, true]);
});

test.each(notSame)("%p and %p do not", (a, b) => {
  expect([sameVersion(a, b), sameVersion(b, a)]).toEqual([false, false]);
});
