/**
 * Shim benchmark (issue 6): `hello` through the upkeep shim (up-to-date path: cached state, no network)
 * against running the installed tool directly, and an empty compiled Bun program as the floor, with
 * hyperfine in the same run. Target: the shim adds at most 1.3x the floor.
 *
 * Usage: npm run build && npx bun scripts/bench/shim.ts [--runs 200] [--rounds 3]
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compileOptions } from "../compile_options.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "200" }, rounds: { type: "string", default: "3" } },
});
const root = resolve(import.meta.dir, "../..");
const upkeep = join(root, "dist/upkeep");
const work = mkdtempSync(join(tmpdir(), "upkeep-shim-bench-"));

try {
  // An installed tools version, as the shared installer leaves it (bin/ + completion marker), pinned.
  const tools = join(work, "tools");
  const ver = join(tools, "1.0.0");
  mkdirSync(join(ver, "bin"), { recursive: true });
  writeFileSync(join(ver, "bin", "hello"), "#!/bin/sh\necho hello 1.0.0\n");
  chmodSync(join(ver, "bin", "hello"), 0o755);
  writeFileSync(join(ver, ".upkeep-complete"), JSON.stringify({ version: "1.0.0" }));
  writeFileSync(
    join(tools, "tools.json"),
    JSON.stringify({ trustKeys: [], enrolled: false, pinned: "1.0.0" }),
  );
  const shims = join(work, "bin");
  mkdirSync(shims);
  symlinkSync(upkeep, join(shims, "hello"));

  writeFileSync(join(work, "empty.ts"), "");
  // The least any Bun-built shim can do: spawn the tool with stdio inherited and exit with its code.
  writeFileSync(
    join(work, "spawn.ts"),
    `async function m() { const c = Bun.spawn([${JSON.stringify(join(ver, "bin", "hello"))}], { stdin: "inherit", stdout: "inherit", stderr: "inherit" }); return await c.exited; }\nm().then((c) => process.exit(c));\n`,
  );
  const compile = async (entry: string, out: string, opts: Bun.BuildConfig) => {
    const r = await Bun.build(opts);
    if (!r.success) throw new Error(`could not compile ${entry} into ${out}`);
  };
  // The floor: an empty program compiled with Bun's defaults (which look for .env and bunfig.toml in
  // every directory from / to the working directory at start-up).
  await compile("empty.ts", "empty", {
    entrypoints: [join(work, "empty.ts")],
    minify: true,
    bytecode: true,
    compile: { outfile: join(work, "empty") },
  });
  // The same empty program and the spawn-only one built exactly as upkeep is (no .env/bunfig lookup).
  await compile(
    "empty.ts",
    "empty-hardened",
    compileOptions(join(work, "empty.ts"), join(work, "empty-hardened")),
  );
  await compile("spawn.ts", "spawn-only", compileOptions(join(work, "spawn.ts"), join(work, "spawn-only")));

  const rounds = Number(values.rounds ?? "3");
  const rows: Record<string, number>[] = [];
  for (let round = 1; round <= rounds; round++) {
    const json = join(work, `hyperfine-${round}.json`);
    const r = Bun.spawnSync(
      [
        "hyperfine",
        "-N",
        "--warmup",
        "20",
        "--runs",
        values.runs ?? "200",
        "--export-json",
        json,
        "-n",
        "tool directly",
        join(ver, "bin", "hello"),
        "-n",
        "shim (hello -> upkeep)",
        join(shims, "hello"),
        "-n",
        "spawn-only compiled bun",
        join(work, "spawn-only"),
        "-n",
        "empty compiled bun (defaults)",
        join(work, "empty"),
        "-n",
        "empty compiled bun (upkeep's flags)",
        join(work, "empty-hardened"),
      ],
      // The repository as the working directory: a developer runs tools inside a checkout.
      { cwd: root, env: { ...process.env, UPKEEP_TOOLS_DIR: tools }, stdout: "ignore", stderr: "inherit" },
    );
    if (r.exitCode !== 0) throw new Error("hyperfine failed (apt-get install hyperfine)");
    const results = (await Bun.file(json).json()).results as { command: string; median: number }[];
    const ms = (name: string) => (results.find((x) => x.command === name)?.median ?? Number.NaN) * 1000;
    const row = {
      direct: ms("tool directly"),
      shim: ms("shim (hello -> upkeep)"),
      spawn: ms("spawn-only compiled bun"),
      floor: ms("empty compiled bun (defaults)"),
      floorHardened: ms("empty compiled bun (upkeep's flags)"),
    };
    rows.push(row);
    console.log(
      `round ${round}: medians tool ${row.direct.toFixed(2)} ms, shim ${row.shim.toFixed(2)}, spawn-only ${row.spawn.toFixed(2)}, ` +
        `empty (defaults) ${row.floor.toFixed(2)}, empty (upkeep's flags) ${row.floorHardened.toFixed(2)}; ` +
        `shim adds ${(row.shim - row.direct).toFixed(2)} ms = ${((row.shim - row.direct) / row.floor).toFixed(2)}x / ${((row.shim - row.direct) / row.floorHardened).toFixed(2)}x`,
    );
  }
  const med = (f: (r: Record<string, number>) => number) => {
    const xs = rows.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)] as number;
  };
  const added = med((r) => (r.shim ?? 0) - (r.direct ?? 0));
  console.log(
    `\nmedian over ${rounds} rounds (${values.runs ?? "200"} runs each, working directory ${root}):`,
  );
  console.log(`  the shim adds ${added.toFixed(2)} ms over running the tool directly`);
  console.log(
    `  = ${med((r) => ((r.shim ?? 0) - (r.direct ?? 0)) / (r.floor ?? 1)).toFixed(2)}x an empty compiled Bun program with Bun's defaults (${med((r) => r.floor ?? 0).toFixed(2)} ms; target <= 1.3x)`,
  );
  console.log(
    `  = ${med((r) => ((r.shim ?? 0) - (r.direct ?? 0)) / (r.floorHardened ?? 1)).toFixed(2)}x an empty program built with upkeep's flags (${med((r) => r.floorHardened ?? 0).toFixed(2)} ms)`,
  );
  console.log(
    `  a program built the same way that only spawns the tool adds ${med((r) => (r.spawn ?? 0) - (r.direct ?? 0)).toFixed(2)} ms = ${med((r) => ((r.spawn ?? 0) - (r.direct ?? 0)) / (r.floorHardened ?? 1)).toFixed(2)}x that (the least any Bun shim can add)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
