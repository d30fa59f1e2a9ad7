/** `--edition` and `--fips` (and their config keys), as Teleport names and pairs them. */
import { describe, expect, test } from "bun:test";
import { resolveOptions } from "./serve_options.ts";
import { usageRefusal } from "./test_harness.ts";

describe("--edition and --fips", () => {
  test.each(["oss", "community", "ent"])("%s is one of Teleport's editions", (edition) => {
    expect(resolveOptions({ edition }).edition).toBe(edition);
  });

  test("an unknown edition is refused, naming the three", () => {
    expect(usageRefusal(() => resolveOptions({ edition: "gold" })).message).toBe(
      '--edition "gold": use oss, community or ent',
    );
  });

  test("FIPS is an Enterprise build, as Teleport's: --fips with ent; refused with oss or community", () => {
    expect(resolveOptions({ edition: "ent", fips: true })).toMatchObject({ edition: "ent", fips: true });
    for (const edition of [undefined, "oss", "community"]) {
      const e = usageRefusal(() => resolveOptions({ ...(edition ? { edition } : {}), fips: true }));
      expect(e.message).toBe(`--fips needs --edition ent (this is --edition ${edition ?? "oss"})`);
      expect(e.hint).toContain("-ent-v{version}-{os}-{arch}-fips-bin.tar.gz");
    }
  });
});
