/**
 * The runs of the fleet simulator (scripts/bench/fleet.ts): the main run (reference, seed, the measuring
 * windows, the rollouts, kill -9 and restart, the storm) and `--sweep`.
 */
import { FIND_PERIOD_S, REPORT_PERIOD_S, rates, windowS } from "./fleet_args.ts";
import { type LossCheck, lossCheck } from "./fleet_list.ts";
import { type Rates, startLoad, storm } from "./fleet_load.ts";
import { genCheck, HEAD, load, measure, type PhaseResult, problems, row, settle } from "./fleet_phases.ts";
import { emptySummary, machineLine, printSummary, type Summary } from "./fleet_report.ts";
import { rolloutA, rolloutB } from "./fleet_rollouts.ts";
import type { ServeProc } from "./fleet_serve.ts";
import type { Fleet } from "./fleet_sim.ts";
import { fmt, memoryMiB, socketCount } from "./fleet_stats.ts";
import { out, type World } from "./fleet_world.ts";

/** Whether the server still lists every acknowledged report of `fleet`. */
function losses(w: World, when: string, serve: ServeProc, fleet: Fleet): Promise<LossCheck> {
  return lossCheck(when, (path) => w.apiJson(serve.url, "GET", path), fleet, w.a.pageSize);
}

async function referenceRun(w: World, release: string[], reportRate: number): Promise<PhaseResult> {
  const REF = w.a.refAgents;
  const serve = await w.newServe("reference", release);
  const fleet = w.newFleet(serve.url, REF);
  fleet.grow(REF);
  await fleet.seed(0, REF);
  const win = windowS(w.a, reportRate);
  const p = await measure(`ref ${fmt.int(REF)} reports`, w.pinned, fleet, serve, () =>
    load(fleet, { find: 0, report: reportRate }, win),
  );
  await settle(w.a, fleet);
  await w.stopServe(serve);
  return p;
}

/** The header lines, and the reference run (CPU per report at --ref-agents, at the N fleet's report rate). */
async function intro(w: World, release: string[], r: Rates, summary: Summary): Promise<void> {
  const { agents: N, compress: X, groups } = w.a;
  out(
    `fleet: ${fmt.int(N)} agents in ${groups.length} groups (${groups.join(", ")}), compress ${X}: find every ${fmt.ms(FIND_PERIOD_S / X)} s, report every ${fmt.ms(REPORT_PERIOD_S / X)} s per agent = ${fmt.int(r.find)} find/s + ${fmt.int(r.report)} report/s (the rates of ${fmt.int(N * X)} real agents)`,
  );
  out(
    `serve: ${w.a.command.join(" ")}${w.pinned ? " pinned to CPU 0 (taskset), this generator to CPU 1" : " (not pinned)"}; data in ${w.dir}`,
  );
  out(machineLine());
  if (w.a.refAgents > 0 && w.a.refAgents !== N) {
    summary.reference = await referenceRun(w, release, r.report);
    out(
      `reference: ${fmt.int(w.a.refAgents)} agents, reports at ${fmt.int(r.report)}/s: ${fmt.ms(summary.reference.cpuPerReportMs)} ms of serve CPU per report`,
    );
  }
}

/** Every agent reports once; then --gen-check. */
async function seedPhase(w: World, summary: Summary, fleet: Fleet, serve: ServeProc): Promise<void> {
  const N = w.a.agents;
  const seed = await measure("seed", w.pinned, fleet, serve, () => fleet.seed(0, N));
  summary.seed = { ...seed, agentsPerS: N / seed.seconds };
  out(
    `seed: ${fmt.int(N)} agents reported once in ${seed.seconds.toFixed(1)} s (${fmt.int(N / seed.seconds)}/s, up to ${fleet.limits.reports} at once; serve CPU ${fmt.pct(seed.serveCpuShare)}, ${fmt.ms(seed.serveCpuMs / N)} ms per report)`,
  );
  if (w.a.genCheck) {
    summary.genCheck = await genCheck(serve, fleet);
    out(summary.genCheck);
  }
}

/** Idle, find only, report only, mixed: one window each; CPU per report against the reference. */
async function windows(w: World, summary: Summary, fleet: Fleet, serve: ServeProc, r: Rates): Promise<void> {
  const win = windowS(w.a, r.report);
  const phase = async (name: string, body: () => Promise<void>) => {
    const p = await measure(name, w.pinned, fleet, serve, body);
    out(row(p));
    summary.phases.push(p);
    return p;
  };
  // What serve spends on its own (timers: the reconcile interval, answers recomputed each minute).
  await phase("idle", () => Bun.sleep(Math.min(win, 10) * 1000));
  await phase("find only", () => load(fleet, { find: r.find, report: 0 }, win));
  const reportOnly = await phase("report only", () => load(fleet, { find: 0, report: r.report }, win));
  // The load: both rates together, nothing else going on.
  await phase("mixed", () => load(fleet, r, win));
  if (summary.reference)
    summary.cpuPerReportRatio = reportOnly.cpuPerReportMs / summary.reference.cpuPerReportMs;
  else if (w.a.refAgents === w.a.agents) summary.cpuPerReportRatio = 1;
}

/** The same load while the rollouts run (their updates add reports), and at least --duration. */
async function steadyPhase(w: World, summary: Summary, fleet: Fleet, serve: ServeProc, r: Rates) {
  const rollout = !w.a.noRollout;
  const steady = await measure(rollout ? "rollouts" : "steady", w.pinned, fleet, serve, async () => {
    const l = startLoad(fleet, r);
    const t0 = performance.now();
    if (rollout) {
      summary.rollouts.push(await rolloutA(w, serve.url, fleet));
      summary.rollouts.push(await rolloutB(w, serve.url, fleet));
    }
    const left = w.a.minDurationS * 1000 - (performance.now() - t0);
    if (left > 0) await Bun.sleep(left);
    summary.rss = memoryMiB(serve.pid);
    summary.serveSockets = socketCount(serve.pid);
    l.stop();
    await settle(w.a, fleet);
  });
  out(row(steady));
  summary.phases.push(steady);
}

/** kill -9 and restart on the same data dir: every acknowledged report must be listed. Returns the new serve. */
async function restartCheck(w: World, summary: Summary, fleet: Fleet, serve: ServeProc): Promise<ServeProc> {
  await serve.kill();
  w.live.delete(serve);
  const t = performance.now();
  const again = await serve.restart();
  w.live.add(again);
  summary.restartSeconds = (performance.now() - t) / 1000;
  summary.losses.push(await losses(w, "after kill -9 and restart", again, fleet));
  return again;
}

/** Every agent reports within one find period while finds go on. */
async function stormPhase(w: World, summary: Summary, fleet: Fleet, serve: ServeProc, findRate: number) {
  const spread = FIND_PERIOD_S / w.a.compress;
  let allAcked = 0;
  const p = await measure("storm", w.pinned, fleet, serve, async () => {
    const l = startLoad(fleet, { find: findRate, report: 0 });
    const t0 = performance.now();
    await storm(fleet, spread);
    // Finds go on until every storm report is answered.
    while (fleet.reportBacklog() > 0) await Bun.sleep(5);
    allAcked = (performance.now() - t0) / 1000;
    l.stop();
    await fleet.drain();
  });
  summary.storm = { ...p, spreadS: spread, allAckedS: allAcked };
  out(row(p));
  summary.rss = memoryMiB(serve.pid);
}

export async function mainRun(w: World, release: string[]): Promise<Summary> {
  const N = w.a.agents;
  const r = rates(w.a, N);
  const summary = emptySummary(w.a, w.pinned);
  await intro(w, release, r, summary);
  let serve = await w.newServe("main", release);
  const fleet = w.newFleet(serve.url, N);
  fleet.grow(N);
  await seedPhase(w, summary, fleet, serve);
  out();
  out(HEAD);
  await windows(w, summary, fleet, serve, r);
  await steadyPhase(w, summary, fleet, serve, r);
  if (!w.a.noRestart) serve = await restartCheck(w, summary, fleet, serve);
  if (!w.a.noStorm) await stormPhase(w, summary, fleet, serve, r.find);
  for (const p of [...summary.phases, ...(summary.storm ? [summary.storm] : [])]) {
    const line = problems(p);
    if (line) out(line);
  }
  summary.losses.push(await losses(w, "at the end (live)", serve, fleet));
  await w.stopServe(serve);
  return summary;
}

/** --sweep: one serve, the fleet grown step by step, a steady window at each size. */
export async function sweep(w: World, release: string[]): Promise<Summary> {
  const { agents: N, sweepWindowS } = w.a;
  const steps = [1, 1.5, 2, 3, 5, 7]
    .flatMap((m) => [1e3, 1e4, 1e5, 1e6].map((p) => m * p))
    .sort((a, b) => a - b);
  const sizes = steps.filter((n) => n <= N);
  if (sizes.at(-1) !== N) sizes.push(N);
  out(
    `sweep: up to ${fmt.int(N)} agents in ${w.a.groups.length} groups, compress ${w.a.compress}, ${sweepWindowS} s of steady load (find + report) at each size; serve ${w.pinned ? "pinned to CPU 0" : "not pinned"}`,
  );
  const serve = await w.newServe("sweep", release);
  const fleet = w.newFleet(serve.url, N);
  out(machineLine());
  const summary = emptySummary(w.a, w.pinned);
  out(`${"agents".padStart(9)} ${"seed/s".padStart(8)}  ${HEAD.slice(17)}  VmRSS`);
  let best = 0;
  for (const n of sizes) {
    const from = fleet.n;
    fleet.grow(n);
    const seed = await measure("seed", w.pinned, fleet, serve, () => fleet.seed(from, n));
    const p = await measure(`${n}`, w.pinned, fleet, serve, () => load(fleet, rates(w.a, n), sweepWindowS));
    summary.phases.push(p);
    const mem = memoryMiB(serve.pid);
    summary.rss = mem;
    summary.serveSockets = socketCount(serve.pid);
    out(
      `${fmt.int(n).padStart(9)} ${fmt.int((n - from) / seed.seconds).padStart(8)}  ${row(p).slice(17)}  ${fmt.mib(mem.rss)}`,
    );
    const line = problems(p);
    if (line) out(line);
    if (p.serveCpuShare >= 0.5) break;
    best = n;
  }
  out(
    best === 0
      ? "serve used 50% of one core or more at every size tried"
      : `largest fleet with serve under 50% of one core: ${fmt.int(best)} agents${best === N ? " (the largest tried: --agents sets it)" : ""}`,
  );
  summary.losses.push(await losses(w, "at the end (live)", serve, fleet));
  printSummary(w.a, { ...summary, phases: [] });
  await w.stopServe(serve);
  return summary;
}
