/**
 * Shim benchmark (issue 6): `hello` through the upkeep shim (up-to-date path: cached state, no network)
 * against running the installed tool directly, and an empty compiled Bun program as the floor, with
 * hyperfine in the same run. Target: the shim adds at most 1.3x the floor.
 *
 * Usage: npm run build && npx bun scripts/bench/shim.ts [--runs 200]
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "200" } } });
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
  const spawnOnly = await Bun.build({
    entrypoints: [join(work, "spawn.ts")],
    minify: true,
    bytecode: true,
    format: "esm",
    compile: { outfile: join(work, "spawn-only") },
  });
  if (!spawnOnly.success) throw new Error("could not compile the spawn-only program");
  const built = await Bun.build({
    entrypoints: [join(work, "empty.ts")],
    minify: true,
    bytecode: true,
    compile: { outfile: join(work, "empty") },
  });
  if (!built.success) throw new Error("could not compile the empty program");

  const json = join(work, "hyperfine.json");
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
      "empty compiled bun",
      join(work, "empty"),
    ],
    { env: { ...process.env, UPKEEP_TOOLS_DIR: tools }, stdout: "inherit", stderr: "inherit" },
  );
  if (r.exitCode !== 0) throw new Error("hyperfine failed (apt-get install hyperfine)");
  const results = (await Bun.file(json).json()).results as { command: string; median: number }[];
  const ms = (name: string) => (results.find((x) => x.command === name)?.median ?? Number.NaN) * 1000;
  const direct = ms("tool directly");
  const shim = ms("shim (hello -> upkeep)");
  const floor = ms("empty compiled bun");
  const spawnFloor = ms("spawn-only compiled bun");
  const added = shim - direct;
  console.log(
    `\nmedians: tool directly ${direct.toFixed(2)} ms, shim ${shim.toFixed(2)} ms, empty Bun program ${floor.toFixed(2)} ms`,
  );
  console.log(
    `a Bun program that only spawns the tool adds ${(spawnFloor - direct).toFixed(2)} ms = ${((spawnFloor - direct) / floor).toFixed(2)}x the floor (the least any Bun shim can add)`,
  );
  console.log(
    `the shim adds ${added.toFixed(2)} ms = ${(added / floor).toFixed(2)}x the empty-program floor (target <= 1.3x)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
