/**
 * The phases of the fleet simulator (scripts/bench/fleet.ts): a stretch of load measured (serve's and the
 * generator's CPU, latencies, what piled up), the table row that shows it, and the generator check.
 */
import type { FleetArgs } from "./fleet_args.ts";
import type { Cluster, CpuPart } from "./fleet_cluster.ts";
import { type Rates, startLoad } from "./fleet_load.ts";
import type { Fleet } from "./fleet_sim.ts";
import { CpuWindow, cpuBusyMs, fmt, PhaseStats } from "./fleet_stats.ts";

export interface PhaseResult {
  name: string;
  seconds: number;
  finds: number;
  reports: number;
  /** CPU of the whole server side: serve, or every replica and PostgreSQL. */
  serveCpuShare: number;
  serveCpuMs: number;
  /** The same per part (each replica, PostgreSQL), when there is more than serve alone. */
  cpuParts: { name: string; share: number; ms: number }[];
  cpuPerFindMs: number;
  cpuPerReportMs: number;
  find: { p50: number; p99: number; max: number };
  report: { p50: number; p99: number; max: number };
  genCpuShare: number;
  /** Share of CPU 0 (serve's) that other processes of the machine used during the phase. */
  othersCpu0Share: number;
  lagP99: number;
  findErrors: number;
  reportErrors: number;
  findsSkipped: number;
  reportsCoalesced: number;
  maxBacklog: number;
  maxInFlight: number;
  errorSample: string;
}

const latency = (s: PhaseStats["find"]) => {
  const [p50, p99, max] = s.percentiles(50, 99, 100) as [number, number, number];
  return { p50, p99, max };
};

const totalMs = (parts: CpuPart[]) => parts.reduce((sum, p) => sum + p.ms, 0);

/**
 * Runs `body` with fresh stats, measuring the server side's CPU (each part and in total) and the generator's
 * over it (`pinned`: the server side on CPU 0).
 */
export async function measure(
  name: string,
  pinned: boolean,
  fleet: Fleet,
  servers: Cluster,
  body: () => Promise<void>,
): Promise<PhaseResult> {
  const stats = new PhaseStats();
  fleet.stats = stats;
  const parts0 = servers.cpuParts();
  const cpu = new CpuWindow(() => totalMs(servers.cpuParts()));
  const gen = new CpuWindow(process.pid);
  const busy0 = pinned ? cpuBusyMs(0) : Number.NaN;
  await body();
  const c = cpu.read();
  const g = gen.read();
  const parts1 = servers.cpuParts();
  const cpuParts = parts1.map((p, k) => {
    const ms = p.ms - (parts0[k]?.ms ?? 0);
    return { name: p.name, ms, share: ms / c.wallMs };
  });
  // CPU 0 is serve's alone only on a quiet machine: what other processes took of it, in the same time.
  const others = pinned ? Math.max(0, cpuBusyMs(0) - busy0 - c.cpuMs) / c.wallMs : Number.NaN;
  const find = latency(stats.find);
  const report = latency(stats.report);
  const finds = stats.find.count;
  const reports = stats.report.count;
  return {
    name,
    seconds: c.wallMs / 1000,
    finds,
    reports,
    serveCpuShare: c.share,
    serveCpuMs: c.cpuMs,
    cpuParts: cpuParts.length > 1 ? cpuParts : [],
    cpuPerFindMs: finds > 0 && reports === 0 ? c.cpuMs / finds : Number.NaN,
    cpuPerReportMs: reports > 0 && finds === 0 ? c.cpuMs / reports : Number.NaN,
    find,
    report,
    genCpuShare: g.share,
    othersCpu0Share: others,
    lagP99: stats.lag.percentiles(99)[0] as number,
    findErrors: stats.findErrors,
    reportErrors: stats.reportErrors,
    findsSkipped: stats.findsSkipped,
    reportsCoalesced: stats.reportsCoalesced,
    maxBacklog: stats.maxBacklog,
    maxInFlight: stats.maxInFlight,
    errorSample: stats.errorSample,
  };
}

/** Periodic load at `r` for `seconds` (then stopped and drained). */
export async function load(fleet: Fleet, r: Rates, seconds: number): Promise<void> {
  const l = startLoad(fleet, r);
  await Bun.sleep(seconds * 1000);
  l.stop();
  await fleet.drain();
}

/** Stops the load and waits for updates in progress and every request. */
export async function settle(a: FleetArgs, fleet: Fleet): Promise<void> {
  const deadline = Date.now() + ((a.updateSeconds[1] + a.jitter) * 1000) / a.compress + 30_000;
  while (fleet.updatesRunning() > 0 && Date.now() < deadline) await Bun.sleep(50);
  fleet.close();
  await fleet.drain();
}

export const HEAD =
  "phase              secs    find/s  report/s  serve CPU   ms/find  ms/report  find p50/p99 ms  report p50/p99 ms  gen CPU  lag p99  others CPU0";

export function row(p: PhaseResult): string {
  const s = p.seconds;
  return [
    p.name.padEnd(16),
    s.toFixed(1).padStart(6),
    fmt.int(p.finds / s).padStart(9),
    fmt.int(p.reports / s).padStart(9),
    fmt.pct(p.serveCpuShare).padStart(10),
    fmt.ms(p.cpuPerFindMs).padStart(9),
    fmt.ms(p.cpuPerReportMs).padStart(10),
    `${fmt.ms(p.find.p50)}/${fmt.ms(p.find.p99)}`.padStart(16),
    `${fmt.ms(p.report.p50)}/${fmt.ms(p.report.p99)}`.padStart(18),
    fmt.pct(p.genCpuShare).padStart(8),
    fmt.ms(p.lagP99).padStart(8),
    (Number.isNaN(p.othersCpu0Share) ? "-" : fmt.pct(p.othersCpu0Share)).padStart(12),
    ...(p.cpuParts.length > 0
      ? [` ${p.cpuParts.map((x) => `${x.name} ${fmt.pct(x.share)}`).join(" ")}`]
      : []),
  ].join(" ");
}

/** What went wrong or piled up in a phase, as one line ("" when nothing). */
export function problems(p: PhaseResult): string {
  const parts: string[] = [];
  if (p.findErrors) parts.push(`${p.findErrors} finds failed`);
  if (p.reportErrors) parts.push(`${p.reportErrors} reports failed`);
  if (p.findsSkipped) parts.push(`${p.findsSkipped} finds not sent (previous still waiting)`);
  if (p.reportsCoalesced)
    parts.push(`${p.reportsCoalesced} periodic reports folded (agent's previous waiting)`);
  if (p.maxInFlight >= 256) parts.push(`up to ${p.maxInFlight} requests in flight`);
  if (p.maxBacklog > 0) parts.push(`up to ${p.maxBacklog} reports waiting for a free slot`);
  if (p.errorSample) parts.push(`e.g. ${p.errorSample}`);
  return parts.length ? `    ! ${p.name}: ${parts.join("; ")}` : "";
}

/**
 * Finds as fast as the generator can send them (serve answers finds at tens of thousands a second, so the
 * generator is the limit): a closed loop of 128 in flight for 5 s.
 */
export async function genCheck(fleet: Fleet): Promise<string> {
  const stats = new PhaseStats();
  fleet.stats = stats;
  const gen = new CpuWindow(process.pid);
  const t0 = performance.now();
  let k = 0;
  let inFlight = 0;
  await new Promise<void>((res) => {
    const go = () => {
      while (inFlight < 128 && performance.now() - t0 < 5000) {
        inFlight++;
        const i = k++ % fleet.n;
        fetch(`${fleet.url(i)}/v1/webapi/find?group=g1&updater_id=${fleet.id(i)}`)
          .then(async (r) => {
            await r.arrayBuffer();
            if (r.ok) stats.find.add(0);
          })
          .catch(() => {})
          .finally(() => {
            inFlight--;
            if (performance.now() - t0 < 5000) go();
            else if (inFlight === 0) res();
          });
      }
    };
    go();
  });
  const g = gen.read();
  return `generator check: ${fmt.int(stats.find.count / (g.wallMs / 1000))} find/s with 128 in flight, generator at ${fmt.pct(g.share)} of one core`;
}
