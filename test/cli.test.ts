import { describe, expect, test } from "bun:test";
import pkg from "../package.json" with { type: "json" };
import { upkeep } from "./cli.ts";

describe("upkeep CLI skeleton", () => {
  test("--version prints the package version", async () => {
    const r = await upkeep(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`upkeep ${pkg.version}`);
  });

  test("--help lists every command group", async () => {
    const r = await upkeep(["--help"]);
    expect(r.code).toBe(0);
    for (const group of ["serve", "agent", "tools", "release", "admin", "version"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${group}\\b`, "m"));
    }
  });

  test("every group has --help", async () => {
    for (const group of ["serve", "agent", "tools", "release", "admin", "version"]) {
      const r = await upkeep([group, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: upkeep ${group}`);
    }
  });

  test("an unknown command is a usage error: exit 2, one clear line, no stack trace", async () => {
    const r = await upkeep(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  test("an unknown option is a usage error", async () => {
    const r = await upkeep(["--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });
});
