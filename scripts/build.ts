/**
 * Builds the single self-contained executable `dist/upkeep` with `bun build --compile`.
 * Usage: bun scripts/build.ts [--target bun-linux-x64] [--outfile dist/upkeep]
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { target: { type: "string" }, outfile: { type: "string", default: "dist/upkeep" } },
});
const root = resolve(import.meta.dir, "..");
const outfile = resolve(root, values.outfile ?? "dist/upkeep");
mkdirSync(dirname(outfile), { recursive: true });

const result = await Bun.build({
  entrypoints: [resolve(root, "main.ts")],
  minify: true,
  bytecode: true, // precompiled: start-up ~7 ms instead of ~13 ms
  // Each lazily imported command becomes its own chunk inside the executable, so start-up loads only
  // main.ts and what the path taken needs (--version 7.4 ms -> 5.0 ms, scripts/bench/startup.ts).
  format: "esm",
  splitting: true,
  compile: {
    ...(values.target ? { target: values.target as Bun.Build.CompileTarget } : {}),
    outfile,
    // An updater must not take configuration or code from whatever directory it is started in: by default a
    // compiled Bun program loads `.env` (which could set UPKEEP_TOOLS_TRUST_KEY) and `bunfig.toml` (whose
    // `preload` runs arbitrary code) from the working directory. Off, and this also skips the directory
    // walk that looking for them costs at every start (test/build_hardening.test.ts).
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile}`);
