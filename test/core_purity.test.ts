/**
 * core/ holds the pure rules (versions, compatibility, plans, windows, rollout, resources, trust formats):
 * data in, data out, `now` passed in. Only core/sys/ wires Bun and the OS. Biome's lint enforces the same
 * rule; this test keeps it true even if the lint configuration changes.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./cli.ts";

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (relative(ROOT, p) !== join("core", "sys")) out.push(...sources(p));
    } else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const FORBIDDEN: [RegExp, string][] = [
  [/from\s+["'](node:[^"']+|bun(:[^"']+)?|fs|path|os|child_process|crypto)["']/, "an I/O import"],
  [/import\(\s*["'](node:|bun)/, "a dynamic I/O import"],
  [/\bBun\./, "the Bun global"],
  [/\bprocess\.(env|argv|exit|stdout|stderr|stdin|cwd|pid)/, "the process global"],
  [/(^|[^.\w])fetch\s*\(/, "fetch"],
  [/\bDate\.now\(\)|new Date\(\)/, "the wall clock (pass `now` in)"],
];

describe("core/ is pure", () => {
  const files = sources(join(ROOT, "core"));
  test("there are core sources to check", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    test(relative(ROOT, file), () => {
      const text = readFileSync(file, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/(^|[^:])\/\/.*$/gm, "$1");
      const found = FORBIDDEN.filter(([re]) => re.test(text)).map(([, what]) => what);
      expect(found).toEqual([]);
    });
  }
});
