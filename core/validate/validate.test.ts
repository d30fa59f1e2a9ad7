import { expect, test } from "bun:test";
import { fieldPath, isRecord, type ProblemList, report, unknownKeys } from "./mod.ts";

test.each([
  ["", "kind", "kind"],
  ["spec", "agents", "spec.agents"],
  ["spec.agents.groups", 0, "spec.agents.groups[0]"],
  ["releases[2]", "artifacts", "releases[2].artifacts"],
  ["", 3, "[3]"],
] as const)("fieldPath(%p, %p) is %p", (path, key, want) => {
  expect(fieldPath(path, key)).toBe(want);
});

test.each([
  [{}, true],
  [{ a: 1 }, true],
  [[], false],
  [null, false],
  [undefined, false],
  ["a", false],
  [1, false],
] as const)("isRecord(%p) is %p", (v, want) => {
  expect(isRecord(v)).toBe(want);
});

test("unknownKeys: the keys not allowed, in the document's order", () => {
  expect(unknownKeys({ b: 1, kind: 2, a: 3 }, ["kind"])).toEqual(["b", "a"]);
  expect(unknownKeys({ kind: 1 }, ["kind", "spec"])).toEqual([]);
});

test("report adds every problem, in order", () => {
  const list: ProblemList = { problems: [] };
  report(list, "a", "first");
  report(list, "", "second");
  expect(list.problems).toEqual([
    { path: "a", message: "first" },
    { path: "", message: "second" },
  ]);
});
