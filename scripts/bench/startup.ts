/**
 * Start-up benchmark: `dist/upkeep --version` (and `--help`, which loads the CLI framework) against an
 * empty compiled Bun program, in the same run. Prints medians and the ratio to the floor.
 *
 * Usage: npm run build && npx bun scripts/bench/startup.ts [--runs 60]
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "60" } } });
const runs = Number(values.runs);
const root = resolve(import.meta.dir, "../..");
const upkeep = join(root, "dist/upkeep");

// The floor: an empty program compiled the same way.
const dir = mkdtempSync(join(tmpdir(), "upkeep-bench-"));
writeFileSync(join(dir, "empty.ts"), "");
const empty = join(dir, "empty");
const built = await Bun.build({
  entrypoints: [join(dir, "empty.ts")],
  minify: true,
  bytecode: true,
  compile: { outfile: empty },
});
if (!built.success) throw new Error("could not compile the empty program");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function time(cmd: string[]): number {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "ignore" });
  const t = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}`);
  return t;
}

const cases: Record<string, string[]> = {
  "empty bun program": [empty],
  "upkeep --version": [upkeep, "--version"],
  "upkeep --help": [upkeep, "--help"],
};
const samples: Record<string, number[]> = {};
for (const name of Object.keys(cases)) samples[name] = [];
// Interleave so that machine noise hits every case alike.
for (let i = 0; i < 5; i++) for (const cmd of Object.values(cases)) time(cmd); // warm-up
for (let i = 0; i < runs; i++) {
  for (const [name, cmd] of Object.entries(cases)) samples[name]?.push(time(cmd));
}
const floor = median(samples["empty bun program"] ?? []);
console.log(`runs: ${runs} each, interleaved; median wall time`);
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(
    `${name.padEnd(20)} ${m.toFixed(1).padStart(7)} ms   ratio to empty ${(m / floor).toFixed(2)}x`,
  );
}
