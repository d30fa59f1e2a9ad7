/**
 * Fleet simulator (issue 13): how much of one core `upkeep serve` needs for N agents, and whether it still
 * makes the right rollout decisions and keeps every report it acknowledged.
 *
 * Starts `dist/upkeep serve` on loopback (own temp data dir; a config of G halt-on-error groups with
 * canaries; signed releases 1.0.0..1.3.0 and their manifest published over the API, as `admin publish`
 * does), then simulates N agents with distinct updater ids that ask find every 60 s and report every 300 s
 * (rates N/60 and N/300 per second; `--compress X` runs simulated time X times faster, so the rates are
 * those of N*X agents) and react to the answers (scripts/bench/fleet_sim.ts). Phases (fleet_runs.ts):
 *
 *   reference   a separate serve with --ref-agents (1,000) agents: CPU per report at the N fleet's report rate
 *   seed        every agent reports once (as fast as serve answers)
 *   idle        no requests: what serve spends on its own timers
 *   find only   finds at N/60/s: CPU per find, latency
 *   report only reports at N/300/s: CPU per report (the O(1) check: same rate as the reference)
 *   mixed       finds and reports together at those rates: the load (CPU, p99)
 *   rollouts    the same load while two rollouts run (operator `start` of each group, as an
 *               operator would): A 1.1.0 -> 1.2.0 where --fail-ratio of each group's agents fail (below the
 *               10% threshold: every group must end done), then B 1.2.0 -> 1.3.0 where the canaries of
 *               --halt-group fail (it must roll back and halt every later group; `start` of the next is 409)
 *   kill -9     serve is killed and restarted on the same data dir: every report answered 2xx must be there
 *               (with replicas: the one holding the reconciler lease, in the middle of rollout A; another
 *               must take over and the rollout end right: fleet_failover.ts)
 *   storm       every agent reports within 60 s (as after a restart) while finds go on: find p99 during it
 *
 * It prints serve's CPU (% of one core, /proc/PID/stat utime+stime), RSS (VmRSS, VmHWM), p50/p99 of find and
 * report, reports lost (must be 0; read over every page of `GET /v1/agents`, checked whole), the rollout
 * decisions, the generator's own CPU and lag (it must not be the bottleneck), and the targets.
 * `--store pg` runs serve on a throwaway PostgreSQL (fleet_pg.ts: production settings, fsync on) and
 * `--replicas N` runs N serves on it, each on its own port, agent i talking to replica i mod N; CPU is then
 * shown per replica and for PostgreSQL (postmaster and children) and in total (fleet_cluster.ts).
 * `--sweep` instead grows one fleet step by step (1k, 1.5k, 2k, 3k, 5k, 7k, 10k, ...) and prints the largest
 * N at which serve stays under 50% of one core.
 *
 * Usage: npm run build && npx bun scripts/bench/fleet.ts --agents N [--groups G] [--duration S] [--compress X]
 *          [--ref-agents 1000] [--window S] [--fail-ratio 0.02] [--halt-group K] [--canaries 5]
 *          [--no-storm] [--no-restart] [--no-rollout] [--sweep] [--gen-check] [--no-pin]
 *          [--store sqlite|pg] [--replicas N]
 *          [--upkeep "PATH or command"] [--serve-arg ARG]... [--page-size 1000] [--json FILE] [--keep]
 * Exit code: 0 no report lost (over a whole agent list) and every decision right, 1 otherwise, 2 the
 * benchmark could not run.
 * See scripts/bench/README.md.
 */
import { writeFileSync } from "node:fs";
import { FleetUsageError, parseFleetArgs } from "./fleet_args.ts";
import { nothingLost, printSummary } from "./fleet_report.ts";
import { mainRun, sweep } from "./fleet_runs.ts";
import { out, World } from "./fleet_world.ts";

// Bun's fetch runs 256 requests at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when Bun starts (setting
// it later does nothing): the simulator runs itself again with it, so that up to 2,048 can be in flight.
if (process.env.BUN_CONFIG_MAX_HTTP_REQUESTS === undefined) {
  const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
  process.exit(await child.exited);
}

let args: ReturnType<typeof parseFleetArgs>;
try {
  args = parseFleetArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof FleetUsageError)) throw e;
  console.error(`fleet: ${e.message}`);
  process.exit(2);
}

const w = new World(args);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void w.cleanup().then(() => process.exit(2));
  });
}

let code = 2;
try {
  const release = await w.makeRelease();
  const summary = args.sweep ? await sweep(w, release) : await mainRun(w, release);
  if (!args.sweep) printSummary(args, summary);
  summary.ok = nothingLost(summary) && summary.rollouts.every((r) => r.right);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(summary, null, 2)}\n`);
  out();
  out(summary.ok ? "fleet: OK (no report lost, every decision right)" : "fleet: FAILED (see above)");
  code = summary.ok ? 0 : 1;
} catch (e) {
  console.error(`fleet: could not run: ${(e as Error).stack ?? e}`);
  for (const s of w.live) console.error(`serve log:\n${s.logTail()}`);
  code = 2;
}
await w.cleanup();
process.exit(code);
