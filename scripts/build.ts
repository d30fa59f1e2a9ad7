/**
 * Builds the single self-contained executable `dist/upkeep` with `bun build --compile`.
 * Usage: bun scripts/build.ts [--target bun-linux-x64] [--outfile dist/upkeep]
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compileOptions } from "./compile_options.ts";

const { values } = parseArgs({
  options: { target: { type: "string" }, outfile: { type: "string", default: "dist/upkeep" } },
});
const root = resolve(import.meta.dir, "..");
const outfile = resolve(root, values.outfile ?? "dist/upkeep");
mkdirSync(dirname(outfile), { recursive: true });

const result = await Bun.build(
  compileOptions(resolve(root, "main.ts"), outfile, values.target as Bun.Build.CompileTarget | undefined),
);
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile}`);
