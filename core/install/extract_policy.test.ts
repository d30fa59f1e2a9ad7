import { describe, expect, test } from "bun:test";
import { ExtractPolicy, symlinkProblem } from "./extract_policy.ts";
import type { TarEntry } from "./tar.ts";

describe("extract policy", () => {
  test("symlinkProblem: the depth rule", () => {
    expect(symlinkProblem(["a", "b", "l"], "../../x")).toBeUndefined();
    expect(symlinkProblem(["a", "b", "l"], "../../../x")).toMatch(/outside/);
    expect(symlinkProblem(["l"], "..")).toMatch(/outside/);
    expect(symlinkProblem(["l"], ".")).toBeUndefined();
    expect(symlinkProblem(["a", "l"], "x/../y")).toMatch(/climbs/);
    expect(symlinkProblem(["a", "l"], "")).toMatch(/empty/);
  });

  test("a refused entry leaves no trace in the policy (implied folders not recorded)", () => {
    const p = new ExtractPolicy({ maxFiles: 100, maxBytes: 100 });
    const e = (path: string, kind: TarEntry["kind"], linkpath = ""): TarEntry => ({
      path,
      kind,
      typeflag: "0",
      mode: 0o644,
      size: 0,
      linkpath,
      index: 0,
    });
    expect(() => p.admit(e("x/y/l", "symlink", "/abs"))).toThrow();
    expect(p.files).toBe(0);
    expect(p.admit(e("x/y/f", "file"))).toMatchObject({ kind: "file", mkdirs: ["x", "x/y"] });
  });
});
