/**
 * The runs of the fleet simulator (scripts/bench/fleet.ts): the main run (reference, seed, the measuring
 * windows, the rollouts, kill -9 and restart, the storm) and `--sweep`.
 */
import { FIND_PERIOD_S, REPORT_PERIOD_S, rates, windowS } from "./fleet_args.ts";
import type { Cluster } from "./fleet_cluster.ts";
import { killLeader } from "./fleet_failover.ts";
import { type LossCheck, lossCheck } from "./fleet_list.ts";
import { type Rates, startLoad, storm } from "./fleet_load.ts";
import { pgSettingsLine } from "./fleet_pg.ts";
import { genCheck, HEAD, load, measure, type PhaseResult, problems, row, settle } from "./fleet_phases.ts";
import { emptySummary, machineLine, printSummary, type Summary } from "./fleet_report.ts";
import { type MidRollout, rolloutA, rolloutB } from "./fleet_rollouts.ts";
import type { Fleet } from "./fleet_sim.ts";
import { fmt } from "./fleet_stats.ts";
import { out, type World } from "./fleet_world.ts";

/** Whether the server still lists every acknowledged report of `fleet`. */
function losses(w: World, when: string, c: Cluster, fleet: Fleet): Promise<LossCheck> {
  return lossCheck(when, (path) => w.apiJson(c.adminUrl(), "GET", path), fleet, w.a.pageSize);
}

async function referenceRun(w: World, release: string[], reportRate: number): Promise<PhaseResult> {
  const REF = w.a.refAgents;
  const c = await w.newCluster("reference", release);
  const fleet = w.newFleet(c.urls(), REF);
  fleet.grow(REF);
  await fleet.seed(0, REF);
  const win = windowS(w.a, reportRate);
  const p = await measure(`ref ${fmt.int(REF)} reports`, w.pinned, fleet, c, () =>
    load(fleet, { find: 0, report: reportRate }, win),
  );
  await settle(w.a, fleet);
  await w.stopCluster(c);
  return p;
}

/** The header lines, and the reference run (CPU per report at --ref-agents, at the N fleet's report rate). */
async function intro(w: World, release: string[], r: Rates, summary: Summary): Promise<void> {
  const { agents: N, compress: X, groups } = w.a;
  out(
    `fleet: ${fmt.int(N)} agents in ${groups.length} groups (${groups.join(", ")}), compress ${X}: find every ${fmt.ms(FIND_PERIOD_S / X)} s, report every ${fmt.ms(REPORT_PERIOD_S / X)} s per agent = ${fmt.int(r.find)} find/s + ${fmt.int(r.report)} report/s (the rates of ${fmt.int(N * X)} real agents)`,
  );
  const { replicas, store } = w.a;
  const servers =
    store === "pg" ? `${replicas} serve replica${replicas > 1 ? "s" : ""} and PostgreSQL` : "serve";
  out(
    `serve: ${w.a.command.join(" ")}${w.pinned ? ` (${servers}) pinned to CPU 0 (taskset), this generator to CPU 1` : " (not pinned)"}; data in ${w.dir}`,
  );
  if (store === "pg") {
    const pg = await w.postgres();
    summary.postgres = { version: pg.version, settings: pgSettingsLine() };
    out(
      `store: PostgreSQL ${pg.version} (throwaway, one database per run of serves; ${pgSettingsLine()}); ${replicas} replica${replicas > 1 ? "s" : ""} on their own ports, agent i talks to replica i mod ${replicas}`,
    );
  }
  out(machineLine());
  if (w.a.refAgents > 0 && w.a.refAgents !== N) {
    summary.reference = await referenceRun(w, release, r.report);
    out(
      `reference: ${fmt.int(w.a.refAgents)} agents, reports at ${fmt.int(r.report)}/s: ${fmt.ms(summary.reference.cpuPerReportMs)} ms of serve CPU per report`,
    );
  }
}

/** Every agent reports once; then --gen-check. */
async function seedPhase(w: World, summary: Summary, fleet: Fleet, c: Cluster): Promise<void> {
  const N = w.a.agents;
  const seed = await measure("seed", w.pinned, fleet, c, () => fleet.seed(0, N));
  summary.seed = { ...seed, agentsPerS: N / seed.seconds };
  out(
    `seed: ${fmt.int(N)} agents reported once in ${seed.seconds.toFixed(1)} s (${fmt.int(N / seed.seconds)}/s, up to ${fleet.limits.reports} at once; serve CPU ${fmt.pct(seed.serveCpuShare)}, ${fmt.ms(seed.serveCpuMs / N)} ms per report)`,
  );
  if (w.a.genCheck) {
    summary.genCheck = await genCheck(fleet);
    out(summary.genCheck);
  }
}

/** Idle, find only, report only, mixed: one window each; CPU per report against the reference. */
async function windows(w: World, summary: Summary, fleet: Fleet, c: Cluster, r: Rates): Promise<void> {
  const win = windowS(w.a, r.report);
  const phase = async (name: string, body: () => Promise<void>) => {
    const p = await measure(name, w.pinned, fleet, c, body);
    out(row(p));
    summary.phases.push(p);
    return p;
  };
  // What serve spends on its own (timers: the reconcile interval, answers recomputed each minute).
  await phase("idle", () => Bun.sleep(Math.min(win, 10) * 1000));
  await phase("find only", () => load(fleet, { find: r.find, report: 0 }, win));
  const reportOnly = await phase("report only", () => load(fleet, { find: 0, report: r.report }, win));
  // The issue's load: both rates together, nothing else going on.
  await phase("mixed", () => load(fleet, r, win));
  if (summary.reference)
    summary.cpuPerReportRatio = reportOnly.cpuPerReportMs / summary.reference.cpuPerReportMs;
  else if (w.a.refAgents === w.a.agents) summary.cpuPerReportRatio = 1;
}

/**
 * With replicas, the kill -9 of the reconciling one in the middle of rollout A: a quarter of a find period after
 * the start of the second group (the first when there is one).
 */
function midRollout(w: World, summary: Summary, fleet: Fleet, c: Cluster): MidRollout | undefined {
  if (c.replicas.length < 2 || w.a.noRestart) return undefined;
  return {
    group: w.a.groups[Math.min(1, w.a.groups.length - 1)] as string,
    delayS: FIND_PERIOD_S / 4 / w.a.compress,
    run: () => killLeader(w, c, fleet, summary.losses, (f) => (summary.failover = f)),
  };
}

/** Memory and sockets of the server side now. */
function memoryNow(summary: Summary, c: Cluster): void {
  summary.rss = c.serveMemory();
  summary.memory = c.memory();
  summary.serveSockets = c.sockets();
}

/** The same load while the rollouts run (their updates add reports), and at least --duration. */
async function steadyPhase(w: World, summary: Summary, fleet: Fleet, c: Cluster, r: Rates) {
  const rollout = !w.a.noRollout;
  const steady = await measure(rollout ? "rollouts" : "steady", w.pinned, fleet, c, async () => {
    const l = startLoad(fleet, r);
    const t0 = performance.now();
    if (rollout) {
      summary.rollouts.push(await rolloutA(w, c, fleet, midRollout(w, summary, fleet, c)));
      summary.rollouts.push(await rolloutB(w, c, fleet));
    }
    const left = w.a.minDurationS * 1000 - (performance.now() - t0);
    if (left > 0) await Bun.sleep(left);
    memoryNow(summary, c);
    l.stop();
    await settle(w.a, fleet);
  });
  out(row(steady));
  summary.phases.push(steady);
}

/**
 * kill -9 and restart on the same data dir (and store): every acknowledged report must be listed. With
 * replicas and rollouts, the reconciling replica was killed during rollout A instead (fleet_failover.ts);
 * without rollouts it is killed here, the load stopped.
 */
async function restartCheck(w: World, summary: Summary, fleet: Fleet, c: Cluster): Promise<void> {
  if (c.replicas.length > 1) {
    if (!w.a.noRollout) return;
    const f = await killLeader(w, c, fleet, summary.losses, (x) => (summary.failover = x));
    for (const line of f.lines) out(line);
    if (!f.right)
      summary.rollouts.push({ name: "kill -9 of the reconciler", right: false, seconds: 0, lines: f.lines });
    return;
  }
  const serve = c.replicas[0] as (typeof c.replicas)[0];
  await c.kill(0);
  w.live.delete(serve);
  const t = performance.now();
  const again = await c.restart(0);
  w.live.add(again);
  fleet.reroute(0, again.url);
  summary.restartSeconds = (performance.now() - t) / 1000;
  summary.losses.push(await losses(w, "after kill -9 and restart", c, fleet));
}

/** Every agent reports within one find period while finds go on. */
async function stormPhase(w: World, summary: Summary, fleet: Fleet, c: Cluster, findRate: number) {
  const spread = FIND_PERIOD_S / w.a.compress;
  let allAcked = 0;
  const p = await measure("storm", w.pinned, fleet, c, async () => {
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
  memoryNow(summary, c);
}

export async function mainRun(w: World, release: string[]): Promise<Summary> {
  const N = w.a.agents;
  const r = rates(w.a, N);
  const summary = emptySummary(w.a, w.pinned);
  await intro(w, release, r, summary);
  const c = await w.newCluster("main", release);
  const fleet = w.newFleet(c.urls(), N);
  fleet.grow(N);
  await seedPhase(w, summary, fleet, c);
  out();
  out(`${HEAD}${c.cpuParts().length > 1 ? "  CPU per part" : ""}`);
  await windows(w, summary, fleet, c, r);
  await steadyPhase(w, summary, fleet, c, r);
  if (!w.a.noRestart) await restartCheck(w, summary, fleet, c);
  if (!w.a.noStorm) await stormPhase(w, summary, fleet, c, r.find);
  for (const p of [...summary.phases, ...(summary.storm ? [summary.storm] : [])]) {
    const line = problems(p);
    if (line) out(line);
  }
  summary.losses.push(await losses(w, "at the end (live)", c, fleet));
  await w.stopCluster(c);
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
  const c = await w.newCluster("sweep", release);
  const fleet = w.newFleet(c.urls(), N);
  out(machineLine());
  const summary = emptySummary(w.a, w.pinned);
  out(`${"agents".padStart(9)} ${"seed/s".padStart(8)}  ${HEAD.slice(17)}  VmRSS`);
  let best = 0;
  for (const n of sizes) {
    const from = fleet.n;
    fleet.grow(n);
    const seed = await measure("seed", w.pinned, fleet, c, () => fleet.seed(from, n));
    const p = await measure(`${n}`, w.pinned, fleet, c, () => load(fleet, rates(w.a, n), sweepWindowS));
    summary.phases.push(p);
    memoryNow(summary, c);
    const mem = summary.rss;
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
  summary.losses.push(await losses(w, "at the end (live)", c, fleet));
  printSummary(w.a, { ...summary, phases: [] });
  await w.stopCluster(c);
  return summary;
}
