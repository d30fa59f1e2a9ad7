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
import { MARKER_FILE } from "../../core/install/layout.ts";
import { compileOptions } from "../compile_options.ts";
import { fakeMarker } from "../fake-release.ts";

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
  writeFileSync(join(ver, MARKER_FILE), fakeMarker("1.0.0"));
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
  const names = {
    direct: "tool directly",
    shim: "shim (hello -> upkeep)",
    spawn: "spawn-only compiled bun",
    floor: "empty compiled bun (defaults)",
    floorHardened: "empty compiled bun (upkeep's flags)",
  } as const;
  type Key = keyof typeof names;
  // Every run's time (ms), pooled over the rounds: a round's own median of a 5 ms program moves by
  // +-1 ms on this shared machine, the pooled median much less.
  const pooled: Record<Key, number[]> = { direct: [], shim: [], spawn: [], floor: [], floorHardened: [] };
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
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
        ...(["direct", "shim", "spawn", "floor", "floorHardened"] as Key[]).flatMap((k) => [
          "-n",
          names[k],
          {
            direct: join(ver, "bin", "hello"),
            shim: join(shims, "hello"),
            spawn: join(work, "spawn-only"),
            floor: join(work, "empty"),
            floorHardened: join(work, "empty-hardened"),
          }[k],
        ]),
      ],
      // The repository as the working directory: a developer runs tools inside a checkout.
      { cwd: root, env: { ...process.env, UPKEEP_TOOLS_DIR: tools }, stdout: "ignore", stderr: "inherit" },
    );
    if (r.exitCode !== 0) throw new Error("hyperfine failed (apt-get install hyperfine)");
    const results = (await Bun.file(json).json()).results as { command: string; times: number[] }[];
    const row = {} as Record<Key, number>;
    for (const k of Object.keys(names) as Key[]) {
      const times = (results.find((x) => x.command === names[k])?.times ?? []).map((t) => t * 1000);
      pooled[k].push(...times);
      row[k] = median(times);
    }
    console.log(
      `round ${round}: medians tool ${row.direct.toFixed(2)} ms, shim ${row.shim.toFixed(2)}, spawn-only ${row.spawn.toFixed(2)}, ` +
        `empty (defaults) ${row.floor.toFixed(2)}, empty (upkeep's flags) ${row.floorHardened.toFixed(2)}`,
    );
  }
  const m = Object.fromEntries((Object.keys(names) as Key[]).map((k) => [k, median(pooled[k])])) as Record<
    Key,
    number
  >;
  const added = m.shim - m.direct;
  console.log(
    `\nmedians of all ${pooled.shim.length} runs of each (${rounds} rounds of ${values.runs ?? "200"}, working directory ${root}):`,
  );
  console.log(
    `  tool ${m.direct.toFixed(2)} ms, shim ${m.shim.toFixed(2)} ms: the shim adds ${added.toFixed(2)} ms over running the tool directly`,
  );
  console.log(
    `  = ${(added / m.floor).toFixed(2)}x an empty compiled Bun program with Bun's defaults (${m.floor.toFixed(2)} ms; target <= 1.3x)`,
  );
  console.log(
    `  = ${(added / m.floorHardened).toFixed(2)}x an empty program built with upkeep's flags (${m.floorHardened.toFixed(2)} ms)`,
  );
  console.log(
    `  a program built the same way that only spawns the tool adds ${(m.spawn - m.direct).toFixed(2)} ms = ${((m.spawn - m.direct) / m.floorHardened).toFixed(2)}x that (the least any Bun shim can add)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
