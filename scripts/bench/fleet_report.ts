/**
 * What a fleet simulator run (scripts/bench/fleet.ts) found: the summary it writes with `--json`, and its
 * printed form after the phase table (memory, restart, storm, CPU per report, losses, rollouts, targets).
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { FleetArgs } from "./fleet_args.ts";
import type { MemoryPart } from "./fleet_cluster.ts";
import { type Failover, TAKEOVER_TARGET_S } from "./fleet_failover.ts";
import type { LossCheck } from "./fleet_list.ts";
import type { PhaseResult } from "./fleet_phases.ts";
import type { RolloutCheck } from "./fleet_rollouts.ts";
import { fmt } from "./fleet_stats.ts";
import { out } from "./fleet_world.ts";

export interface Summary {
  agents: number;
  groups: number;
  compress: number;
  pinned: boolean;
  store: "sqlite" | "pg";
  replicas: number;
  /** --store pg: the server's version and settings. */
  postgres?: { version: string; settings: string };
  seed?: PhaseResult & { agentsPerS: number };
  reference?: PhaseResult;
  phases: PhaseResult[];
  /** The largest of one serve (the per-process target). */
  rss: { rss: number; hwm: number };
  /** Each part of the server side (each replica, PostgreSQL), at the same time as `rss`. */
  memory: MemoryPart[];
  serveSockets: number;
  /** Replicas: the kill -9 of the reconciling one. */
  failover?: Failover;
  rollouts: RolloutCheck[];
  losses: LossCheck[];
  restartSeconds?: number;
  storm?: PhaseResult & { spreadS: number; allAckedS: number };
  cpuPerReportRatio?: number;
  genCheck?: string;
  ok: boolean;
}

export function emptySummary(a: FleetArgs, pinned: boolean): Summary {
  return {
    agents: a.agents,
    groups: a.groups.length,
    compress: a.compress,
    pinned,
    store: a.store,
    replicas: a.replicas,
    phases: [],
    rss: { rss: 0, hwm: 0 },
    memory: [],
    serveSockets: 0,
    rollouts: [],
    losses: [],
    ok: true,
  };
}

/** No acknowledged report lost, over listings that held every agent. */
export const nothingLost = (s: Summary) => s.losses.every((l) => l.lost === 0 && !l.listProblem);

export function machineLine(): string {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  return `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${load} (other processes' share of CPU 0 is shown per phase)`;
}

function printLosses(s: Summary): void {
  for (const l of s.losses) {
    out(
      `reports lost ${l.when}: ${l.lost} of ${fmt.int(l.checked)} agents' last acknowledged reports (${fmt.int(l.listed)} listed${l.missing ? `, ${l.missing} missing` : ""}${l.unknown ? `, ${l.unknown} unknown` : ""})`,
    );
    if (l.listProblem) out(`    ! the agent list is not whole (${l.pages} pages): ${l.listProblem}`);
    for (const x of l.sample) out(`    ${x}`);
  }
}

/** At --compress 1: the issue's targets, met or not. */
function printTargets(a: FleetArgs, s: Summary, mixed: PhaseResult): void {
  const during = s.phases.find((p) => p.name === "rollouts" || p.name === "steady");
  const duringName = during?.name === "rollouts" ? "during the rollouts" : "steady";
  const t = (ok: boolean) => (ok ? "met" : "NOT met");
  out();
  out(`issue 13${s.replicas > 1 ? " and 15" : ""} targets at ${fmt.int(s.agents)} agents:`);
  const who = s.memory.length > 1 ? `serve (${s.memory.map((m) => m.name).join(" + ")})` : "serve";
  out(
    `  ${who} under 50% of one core (mixed): ${fmt.pct(mixed.serveCpuShare)} ${t(mixed.serveCpuShare < 0.5)}${during ? `; ${duringName} ${fmt.pct(during.serveCpuShare)}` : ""}`,
  );
  out(
    `  p99 under 50 ms (mixed): find ${fmt.ms(mixed.find.p99)}, report ${fmt.ms(mixed.report.p99)} ${t(mixed.find.p99 < 50 && mixed.report.p99 < 50)}${during ? `; ${duringName} find ${fmt.ms(during.find.p99)}, report ${fmt.ms(during.report.p99)}` : ""}`,
  );
  out(
    `  RSS under 300 MiB: peak ${fmt.mib(s.rss.hwm)}${s.replicas > 1 ? " (the largest replica)" : ""} ${t(s.rss.hwm < 300)}`,
  );
  if (s.failover?.takeoverS !== undefined)
    out(
      `  another replica reconciles within ${TAKEOVER_TARGET_S} s of the kill: ${s.failover.takeoverS.toFixed(1)} s ${t(s.failover.takeoverS <= TAKEOVER_TARGET_S)}`,
    );
  if (s.cpuPerReportRatio !== undefined)
    out(
      `  CPU per report within 1.5x of ${fmt.int(a.refAgents)} agents: ${s.cpuPerReportRatio.toFixed(2)}x ${t(s.cpuPerReportRatio <= 1.5)}`,
    );
  if (s.storm)
    out(`  storm find p99 under 100 ms: ${fmt.ms(s.storm.find.p99)} ms ${t(s.storm.find.p99 < 100)}`);
  out(`  0 reports lost: ${t(nothingLost(s))}`);
}

export function printSummary(a: FleetArgs, s: Summary): void {
  const mixed = s.phases.find((p) => p.name === "mixed");
  const reportOnly = s.phases.find((p) => p.name === "report only");
  out();
  if (s.memory.length > 1)
    out(
      `memory: ${s.memory.map((m) => `${m.name} ${m.name === "pg" ? `Pss ${fmt.mib(m.rss)}` : `VmRSS ${fmt.mib(m.rss)}, VmHWM ${fmt.mib(m.hwm)}`}`).join("; ")}; ${s.serveSockets} open sockets (serves)`,
    );
  else
    out(
      `serve memory: VmRSS ${fmt.mib(s.rss.rss)}, VmHWM (peak) ${fmt.mib(s.rss.hwm)}; ${s.serveSockets} open sockets`,
    );
  if (s.restartSeconds !== undefined) out(`restart after kill -9: ready in ${s.restartSeconds.toFixed(1)} s`);
  if (s.storm)
    out(
      `storm: ${fmt.int(s.agents)} reports sent over ${fmt.ms(s.storm.spreadS)} s, all answered after ${fmt.ms(s.storm.allAckedS)} s; find p99 ${fmt.ms(s.storm.find.p99)} ms (max ${fmt.ms(s.storm.find.max)}), report p99 ${fmt.ms(s.storm.report.p99)} ms`,
    );
  if (reportOnly)
    out(
      `CPU per report: ${s.reference ? `${fmt.ms(s.reference.cpuPerReportMs)} ms at ${fmt.int(a.refAgents)} agents, ` : ""}${fmt.ms(reportOnly.cpuPerReportMs)} ms at ${fmt.int(s.agents)} agents${s.cpuPerReportRatio !== undefined ? ` (${s.cpuPerReportRatio.toFixed(2)}x)` : ""}`,
    );
  printLosses(s);
  for (const r of s.rollouts) {
    out(`rollout ${r.name}: ${r.right ? "RIGHT" : "WRONG"} (${r.seconds.toFixed(0)} s)`);
    for (const l of r.lines) out(`    ${l}`);
  }
  if (mixed && s.compress === 1) printTargets(a, s, mixed);
}
