/**
 * Fleet simulator (issue 13): how much of one core `upkeep serve` needs for N agents, and whether it still
 * makes the right rollout decisions and keeps every report it acknowledged.
 *
 * Starts `dist/upkeep serve` on loopback (own temp data dir; a config of G halt-on-error groups with
 * canaries; signed releases 1.0.0..1.3.0 and their manifest published over the API, as `admin publish`
 * does), then simulates N agents with distinct updater ids that ask find every 60 s and report every 300 s
 * (rates N/60 and N/300 per second; `--compress X` runs simulated time X times faster, so the rates are
 * those of N*X agents) and react to the answers (scripts/bench/fleet_sim.ts). Phases:
 *
 *   reference   a separate serve with --ref-agents (1,000) agents: CPU per report at the N fleet's report rate
 *   seed        every agent reports once (as fast as serve answers)
 *   idle        no requests: what serve spends on its own timers
 *   find only   finds at N/60/s: CPU per find, latency
 *   report only reports at N/300/s: CPU per report (the O(1) check: same rate as the reference)
 *   mixed       finds and reports together at those rates: the issue's load (CPU, p99)
 *   rollouts    the same load while two rollouts run (operator `start` of each group, as an
 *               operator would): A 1.1.0 -> 1.2.0 where --fail-ratio of each group's agents fail (below the
 *               10% threshold: every group must end done), then B 1.2.0 -> 1.3.0 where the canaries of
 *               --halt-group fail (it must roll back and halt every later group; `start` of the next is 409)
 *   kill -9     serve is killed and restarted on the same data dir: every report answered 2xx must be there
 *   storm       every agent reports within 60 s (as after a restart) while finds go on: find p99 during it
 *
 * It prints serve's CPU (% of one core, /proc/PID/stat utime+stime), RSS (VmRSS, VmHWM), p50/p99 of find and
 * report, reports lost (must be 0), the rollout decisions, the generator's own CPU and lag (it must not be
 * the bottleneck), and the issue's targets. `--sweep` instead grows one fleet step by step (1k, 1.5k, 2k, 3k,
 * 5k, 7k, 10k, ...) and prints the largest N at which serve stays under 50% of one core.
 *
 * Usage: npm run build && npx bun scripts/bench/fleet.ts --agents N [--groups G] [--duration S] [--compress X]
 *          [--ref-agents 1000] [--window S] [--fail-ratio 0.02] [--halt-group K] [--canaries 5]
 *          [--no-storm] [--no-restart] [--no-rollout] [--sweep] [--gen-check] [--no-pin]
 *          [--upkeep "PATH or command"] [--serve-arg ARG]... [--json FILE] [--keep]
 * Exit code: 0 no report lost and every decision right, 1 otherwise, 2 the benchmark could not run.
 * See scripts/bench/README.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateKeyPair } from "../../core/trust/minisign.ts";
import { makeFakeRelease } from "../fake-release.ts";
import { pinSelf, ServeProc as Serve, type ServeProc, type ServeSpec } from "./fleet_serve.ts";
import { type AgentRecordView, Fleet, START_A, TARGET_A, TARGET_B, VERSIONS } from "./fleet_sim.ts";
import { CpuWindow, cpuBusyMs, fmt, memoryMiB, PhaseStats, socketCount } from "./fleet_stats.ts";

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

const FIND_PERIOD_S = 60;
const REPORT_PERIOD_S = 300;
const ADMIN = `admin-${crypto.randomUUID()}`;
const AGENT = `agent-${crypto.randomUUID()}`;
const ROOT = resolve(import.meta.dir, "../..");

const { values: v } = parseArgs({
  options: {
    agents: { type: "string", default: "1000" },
    groups: { type: "string", default: "3" },
    duration: { type: "string", default: "0" },
    compress: { type: "string", default: "1" },
    "ref-agents": { type: "string", default: "1000" },
    window: { type: "string", default: "0" },
    "fail-ratio": { type: "string", default: "0.02" },
    "halt-group": { type: "string" },
    canaries: { type: "string", default: "5" },
    "update-seconds": { type: "string", default: "5-15" },
    jitter: { type: "string", default: "0" },
    "no-storm": { type: "boolean", default: false },
    "no-restart": { type: "boolean", default: false },
    "no-rollout": { type: "boolean", default: false },
    sweep: { type: "boolean", default: false },
    "sweep-window": { type: "string", default: "30" },
    "gen-check": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    upkeep: { type: "string" },
    "serve-arg": { type: "string", multiple: true, default: [] },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});

function usage(msg: string): never {
  console.error(`fleet: ${msg}`);
  process.exit(2);
}
const num = (name: string, text: string | undefined, min: number, max = Number.POSITIVE_INFINITY): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) usage(`--${name} ${text}: must be a number ${min}..${max}`);
  return n;
};

const N = Math.floor(num("agents", v.agents, 1, 2_000_000));
const G = Math.floor(num("groups", v.groups, 1, 20));
const X = num("compress", v.compress, 0.01, 10_000);
const minDurationS = num("duration", v.duration, 0);
const REF = Math.floor(num("ref-agents", v["ref-agents"], 0, 2_000_000));
const windowArg = num("window", v.window, 0);
const FAIL_RATIO = num("fail-ratio", v["fail-ratio"], 0, 0.5);
const HALT = Math.floor(num("halt-group", v["halt-group"] ?? String(Math.min(2, G)), 0, G)) - 1;
const CANARIES = Math.floor(num("canaries", v.canaries, 0, 5));
const JITTER = Math.floor(num("jitter", v.jitter, 0, 86_400));
const SWEEP_WINDOW_S = num("sweep-window", v["sweep-window"], 1);
const upd = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v["update-seconds"] ?? "");
if (!upd || Number(upd[1]) > Number(upd[2])) usage("--update-seconds: MIN-MAX seconds, e.g. 5-15");
const UPDATE_S: [number, number] = [Number(upd[1]), Number(upd[2])];
const GROUPS = Array.from({ length: G }, (_, i) => `g${i + 1}`);

const command = v.upkeep ? v.upkeep.trim().split(/\s+/) : [join(ROOT, "dist/upkeep")];
{
  const c = command[0] as string;
  if (c.includes("/") ? !existsSync(c) : !Bun.which(c))
    usage(`${c} not found: run \`npm run build\` first (or pass --upkeep PATH)`);
}

const rates = (n: number) => ({ find: (n * X) / FIND_PERIOD_S, report: (n * X) / REPORT_PERIOD_S });
/** The CPU-per-request windows: long enough for about 2,000 reports, 10..60 s (or --window). */
const windowS = (reportRate: number) => windowArg || Math.min(60, Math.max(10, 2000 / reportRate));

// ---- set-up ----

const out = (line = "") => console.log(line);
const dir = mkdtempSync(join(tmpdir(), "upkeep-fleet-"));
const live = new Set<ServeProc>();
let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  for (const s of live) await s.stop().catch(() => {});
  if (!v.keep) rmSync(dir, { recursive: true, force: true });
  else out(`kept ${dir}`);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void cleanup().then(() => process.exit(2));
  });
}

const pinned = !v["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null && pinSelf("1");

async function api(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
async function apiJson(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await api(base, method, path, body);
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** Signed releases of every version of the run and their manifest (made once, published to each serve). */
async function makeRelease(): Promise<string[]> {
  const { secretKey } = await generateKeyPair();
  const rel = await makeFakeRelease({ out: join(dir, "release"), versions: [...VERSIONS], key: secretKey });
  const files = rel.artifacts.flatMap((a) => [a.path, `${a.path}.sha256`, `${a.path}.minisig`]);
  // The manifest last, as `upkeep admin publish` uploads it: it names artifacts already there.
  return [...files, rel.manifestPath, `${rel.manifestPath}.minisig`];
}

function farHour(): number {
  return (new Date().getUTCHours() + 12) % 24;
}

function configDoc() {
  // Windows 12 hours away: every group starts by an operator `start`, in order.
  const hour = farHour();
  return {
    kind: "autoupdate_config",
    spec: {
      agents: {
        mode: "enabled",
        strategy: "halt-on-error",
        schedules: {
          regular: GROUPS.map((name, i) => ({
            name,
            days: ["*"],
            start_hour: hour,
            canary_count: CANARIES,
            ...(i > 0 ? { wait_hours: 0 } : {}),
          })),
        },
      },
    },
  };
}

function versionDoc(start: number, target: number) {
  return {
    kind: "autoupdate_version",
    spec: {
      agents: {
        start_version: VERSIONS[start],
        target_version: VERSIONS[target],
        schedule: "regular",
        mode: "enabled",
      },
    },
  };
}

/** A fresh serve (own data dir), releases published, the config and rollout A's versions applied. */
async function newServe(name: string, release: string[]): Promise<ServeProc> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, `agent_update_jitter_seconds: ${JITTER}\n`);
  const spec: ServeSpec = {
    command,
    dataDir,
    config,
    args: v["serve-arg"] ?? [],
    env: { UPKEEP_ADMIN_TOKEN: ADMIN, UPKEEP_AGENT_TOKEN: AGENT },
    cpus: pinned ? "0" : undefined,
    cwd: ROOT,
  };
  const s = await Serve.start(spec);
  live.add(s);
  for (const f of release) {
    const name = f.slice(f.lastIndexOf("/") + 1);
    const r = await fetch(`${s.url}/v1/artifacts/${name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}` },
      body: Bun.file(f),
    });
    if (!r.ok) throw new Error(`upload ${name}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
  await apiJson(s.url, "POST", "/v1/apply", { resources: [configDoc(), versionDoc(START_A, TARGET_A)] });
  return s;
}

function newFleet(url: string, capacity: number): Fleet {
  return new Fleet({
    url,
    agentToken: AGENT,
    capacity,
    groups: GROUPS,
    compress: X,
    runId: crypto.randomUUID().slice(0, 8),
    failRatio: FAIL_RATIO,
    haltGroup: HALT,
    updateSeconds: UPDATE_S,
  });
}

// ---- measuring ----

interface PhaseResult {
  name: string;
  seconds: number;
  finds: number;
  reports: number;
  serveCpuShare: number;
  serveCpuMs: number;
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

/** Runs `body` with fresh stats, measuring serve's and the generator's CPU over it. */
async function measure(
  name: string,
  fleet: Fleet,
  serve: ServeProc,
  body: () => Promise<void>,
): Promise<PhaseResult> {
  const stats = new PhaseStats();
  fleet.stats = stats;
  const cpu = new CpuWindow(serve.pid);
  const gen = new CpuWindow(process.pid);
  const busy0 = pinned ? cpuBusyMs(0) : Number.NaN;
  await body();
  const c = cpu.read();
  const g = gen.read();
  // CPU 0 is serve's alone only on a quiet machine: what other processes took of it, in the same time.
  const others = pinned ? Math.max(0, cpuBusyMs(0) - busy0 - c.cpuMs) / c.wallMs : Number.NaN;
  const [f50, f99, fmax] = stats.find.percentiles(50, 99, 100) as [number, number, number];
  const [r50, r99, rmax] = stats.report.percentiles(50, 99, 100) as [number, number, number];
  const finds = stats.find.count;
  const reports = stats.report.count;
  return {
    name,
    seconds: c.wallMs / 1000,
    finds,
    reports,
    serveCpuShare: c.share,
    serveCpuMs: c.cpuMs,
    cpuPerFindMs: finds > 0 && reports === 0 ? c.cpuMs / finds : Number.NaN,
    cpuPerReportMs: reports > 0 && finds === 0 ? c.cpuMs / reports : Number.NaN,
    find: { p50: f50, p99: f99, max: fmax },
    report: { p50: r50, p99: r99, max: rmax },
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
async function load(fleet: Fleet, r: { find: number; report: number }, seconds: number): Promise<void> {
  const l = fleet.startLoad(r);
  await Bun.sleep(seconds * 1000);
  l.stop();
  await fleet.drain();
}

const HEAD =
  "phase              secs    find/s  report/s  serve CPU   ms/find  ms/report  find p50/p99 ms  report p50/p99 ms  gen CPU  lag p99  others CPU0";
function row(p: PhaseResult): string {
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
  ].join(" ");
}
function problems(p: PhaseResult): string {
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

/** Every agent record the server lists (follows a `next` cursor, for a paginated `/v1/agents`). */
async function listAgents(url: string): Promise<AgentRecordView[]> {
  const all: AgentRecordView[] = [];
  let path = "/v1/agents";
  for (let page = 0; page < 100_000; page++) {
    const body = (await apiJson(url, "GET", path)) as Record<string, unknown>;
    const agents = body.agents;
    if (!Array.isArray(agents)) throw new Error(`GET ${path}: no agents list in the answer`);
    all.push(...(agents as AgentRecordView[]));
    const next = body.next ?? body.next_cursor ?? body.cursor;
    if (typeof next !== "string" || next === "") break;
    path = next.startsWith("/") ? next : `/v1/agents?cursor=${encodeURIComponent(next)}`;
  }
  return all;
}

// ---- rollouts ----

interface GroupView {
  name: string;
  state: string;
  reason: string;
  present_count: number;
  up_to_date_count: number;
  failed_count: number;
}
interface RolloutCheck {
  name: string;
  right: boolean;
  seconds: number;
  lines: string[];
}

async function rolloutView(url: string): Promise<GroupView[]> {
  const view = (await apiJson(url, "GET", "/v1/rollout")) as { groups: GroupView[] };
  return view.groups;
}

/**
 * Acts as the operator: starts each group when the one before it is done, until every group is done, a
 * group rolls back, or the time is up. Returns the last view and when each group changed state.
 */
async function drive(
  url: string,
  stopAt: (groups: GroupView[]) => boolean,
  timeoutS: number,
): Promise<{ groups: GroupView[]; timeline: string[]; timedOut: boolean; seconds: number }> {
  const t0 = performance.now();
  const seen = new Map<string, string>();
  const timeline: string[] = [];
  const started = new Set<string>();
  const pollMs = Math.min(1000, Math.max(100, 5000 / X));
  for (;;) {
    const groups = await rolloutView(url);
    const at = (performance.now() - t0) / 1000;
    for (const g of groups) {
      if (seen.get(g.name) !== g.state) {
        if (seen.has(g.name)) timeline.push(`${g.name} ${g.state} +${at.toFixed(1)}s`);
        seen.set(g.name, g.state);
      }
    }
    if (stopAt(groups)) return { groups, timeline, timedOut: false, seconds: at };
    if (at > timeoutS) return { groups, timeline, timedOut: true, seconds: at };
    const next = groups.find((g) => g.state !== "done");
    if (next?.state === "unstarted" && !started.has(next.name)) {
      started.add(next.name);
      const r = await api(url, "POST", `/v1/rollout/groups/${next.name}/start`);
      const text = await r.text();
      if (!r.ok) timeline.push(`start ${next.name}: ${r.status} ${text.slice(0, 200)}`);
      else timeline.push(`start ${next.name} +${at.toFixed(1)}s`);
    }
    await Bun.sleep(pollMs);
  }
}

/** Time for a rollout through k groups: two find periods and an update per group, twice over, + 60 s. */
function rolloutTimeout(k: number): number {
  return (k * 2 * (FIND_PERIOD_S + UPDATE_S[1] + JITTER) * 2) / X + 60;
}

function groupLine(g: GroupView): string {
  return `${g.name} ${g.state} (present ${g.present_count}, up to date ${g.up_to_date_count}, failed ${g.failed_count}): ${g.reason}`;
}

async function rolloutA(url: string, fleet: Fleet): Promise<RolloutCheck> {
  const r = await drive(
    url,
    (gs) => gs.every((g) => g.state === "done") || gs.some((g) => g.state === "rolledback"),
    rolloutTimeout(G),
  );
  const lines = [`timeline: ${r.timeline.join(", ")}`];
  let right = !r.timedOut;
  if (r.timedOut) lines.push(`not finished after ${r.seconds.toFixed(0)} s`);
  r.groups.forEach((g, i) => {
    const size = fleet.groupSize(i);
    const failed = fleet.failuresA[i] as number;
    const ok =
      g.state === "done" &&
      g.failed_count === failed &&
      g.present_count === size &&
      g.up_to_date_count === size - failed;
    if (!ok) right = false;
    lines.push(
      `${ok ? "ok   " : "WRONG"} ${groupLine(g)}${ok ? "" : ` [expected done, ${size} present, ${failed} failed]`}`,
    );
  });
  return {
    name: `A ${VERSIONS[START_A]} -> ${VERSIONS[TARGET_A]}, ${(FAIL_RATIO * 100).toFixed(1)}% of each group fail (threshold 10%): every group done`,
    right,
    seconds: r.seconds,
    lines,
  };
}

async function rolloutB(url: string, fleet: Fleet): Promise<RolloutCheck> {
  await apiJson(url, "POST", "/v1/apply", { resources: [versionDoc(TARGET_A, TARGET_B)] });
  const halt = GROUPS[HALT];
  const r = await drive(
    url,
    (gs) => gs.every((g) => g.state === "done") || gs.some((g) => g.state === "rolledback"),
    rolloutTimeout(HALT < 0 ? G : HALT + 1),
  );
  const lines = [`timeline: ${r.timeline.join(", ")}`];
  let right = !r.timedOut;
  if (r.timedOut) lines.push(`not finished after ${r.seconds.toFixed(0)} s`);
  let groups = r.groups;
  let refused = "";
  if (HALT >= 0 && !r.timedOut) {
    // Later groups must stay halted: wait a while (a find period and a few polls), then ask to start one.
    await Bun.sleep(Math.max(1000, ((FIND_PERIOD_S + UPDATE_S[1]) * 1000) / X));
    groups = await rolloutView(url);
    const next = GROUPS[HALT + 1];
    if (next) {
      const res = await api(url, "POST", `/v1/rollout/groups/${next}/start`);
      const text = await res.text();
      refused =
        res.status === 409 ? "" : `start ${next} answered ${res.status}, not 409: ${text.slice(0, 200)}`;
      lines.push(
        `start ${next} (after ${halt} rolled back): ${res.status}${refused ? " WRONG" : " (refused, right)"}`,
      );
      if (refused) right = false;
      groups = await rolloutView(url);
    }
  }
  groups.forEach((g, i) => {
    const size = fleet.groupSize(i);
    let ok: boolean;
    let want: string;
    if (HALT < 0 || i < HALT) {
      want = "done";
      ok = g.state === "done" && g.up_to_date_count === size;
    } else if (i === HALT) {
      want = "rolledback by a canary";
      ok = g.state === "rolledback" && /canary/.test(g.reason) && (fleet.canaryFailuresB[i] as number) > 0;
    } else {
      want = "unstarted, halted";
      ok = g.state === "unstarted" && /halted/.test(g.reason);
    }
    if (!ok) right = false;
    lines.push(`${ok ? "ok   " : "WRONG"} ${groupLine(g)}${ok ? "" : ` [expected ${want}]`}`);
  });
  return {
    name:
      HALT < 0
        ? `B ${VERSIONS[TARGET_A]} -> ${VERSIONS[TARGET_B]}, no failures: every group done`
        : `B ${VERSIONS[TARGET_A]} -> ${VERSIONS[TARGET_B]}, the canaries of ${halt} fail: ${halt} rolled back, later groups halted`,
    right,
    seconds: r.seconds,
    lines,
  };
}

// ---- the runs ----

function emptySummary(): Summary {
  return {
    agents: N,
    groups: G,
    compress: X,
    pinned,
    phases: [],
    rss: { rss: 0, hwm: 0 },
    serveSockets: 0,
    rollouts: [],
    losses: [],
    ok: true,
  };
}

function machineLine(): string {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  return `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${load} (other processes' share of CPU 0 is shown per phase)`;
}

interface LossCheck {
  when: string;
  checked: number;
  lost: number;
  missing: number;
  unknown: number;
  listed: number;
  sample: string[];
}

async function lossCheck(when: string, url: string, fleet: Fleet): Promise<LossCheck> {
  const records = await listAgents(url);
  const c = fleet.compare(records);
  return { when, listed: records.length, ...c };
}

/** Stops the load and waits for updates in progress and every request. */
async function settle(fleet: Fleet): Promise<void> {
  const deadline = Date.now() + ((UPDATE_S[1] + JITTER) * 1000) / X + 30_000;
  while (fleet.updatesRunning() > 0 && Date.now() < deadline) await Bun.sleep(50);
  fleet.close();
  await fleet.drain();
}

async function referenceRun(release: string[], reportRate: number): Promise<PhaseResult> {
  const serve = await newServe("reference", release);
  const fleet = newFleet(serve.url, REF);
  fleet.grow(REF);
  await fleet.seed(0, REF);
  const w = windowS(reportRate);
  const p = await measure(`ref ${fmt.int(REF)} reports`, fleet, serve, () =>
    load(fleet, { find: 0, report: reportRate }, w),
  );
  await settle(fleet);
  await serve.stop();
  live.delete(serve);
  return p;
}

async function genCheck(serve: ServeProc, fleet: Fleet): Promise<string> {
  // Finds as fast as the generator can send them (serve answers finds at tens of thousands a second, so
  // the generator is the limit): a closed loop of 128 in flight for 5 s.
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
        fetch(`${serve.url}/v1/webapi/find?group=g1&updater_id=${fleet.id(i)}`)
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

interface Summary {
  agents: number;
  groups: number;
  compress: number;
  pinned: boolean;
  seed?: PhaseResult & { agentsPerS: number };
  reference?: PhaseResult;
  phases: PhaseResult[];
  rss: { rss: number; hwm: number };
  serveSockets: number;
  rollouts: RolloutCheck[];
  losses: LossCheck[];
  restartSeconds?: number;
  storm?: PhaseResult & { spreadS: number; allAckedS: number };
  cpuPerReportRatio?: number;
  genCheck?: string;
  ok: boolean;
}

async function mainRun(release: string[]): Promise<Summary> {
  const r = rates(N);
  out(
    `fleet: ${fmt.int(N)} agents in ${G} groups (${GROUPS.join(", ")}), compress ${X}: find every ${fmt.ms(FIND_PERIOD_S / X)} s, report every ${fmt.ms(REPORT_PERIOD_S / X)} s per agent = ${fmt.int(r.find)} find/s + ${fmt.int(r.report)} report/s (the rates of ${fmt.int(N * X)} real agents)`,
  );
  out(
    `serve: ${command.join(" ")}${pinned ? " pinned to CPU 0 (taskset), this generator to CPU 1" : " (not pinned)"}; data in ${dir}`,
  );
  out(machineLine());
  const summary = emptySummary();
  if (REF > 0 && REF !== N) {
    summary.reference = await referenceRun(release, r.report);
    out(
      `reference: ${fmt.int(REF)} agents, reports at ${fmt.int(r.report)}/s: ${fmt.ms(summary.reference.cpuPerReportMs)} ms of serve CPU per report`,
    );
  }

  let serve = await newServe("main", release);
  const fleet = newFleet(serve.url, N);
  fleet.grow(N);
  const seed = await measure("seed", fleet, serve, () => fleet.seed(0, N));
  summary.seed = { ...seed, agentsPerS: N / seed.seconds };
  out(
    `seed: ${fmt.int(N)} agents reported once in ${seed.seconds.toFixed(1)} s (${fmt.int(N / seed.seconds)}/s, up to ${fleet.limits.reports} at once; serve CPU ${fmt.pct(seed.serveCpuShare)}, ${fmt.ms(seed.serveCpuMs / N)} ms per report)`,
  );
  if (v["gen-check"]) {
    summary.genCheck = await genCheck(serve, fleet);
    out(summary.genCheck);
  }
  out();
  out(HEAD);
  const w = windowS(r.report);
  // What serve spends on its own (timers: the reconcile interval, answers recomputed each minute).
  const idle = await measure("idle", fleet, serve, () => Bun.sleep(Math.min(w, 10) * 1000));
  out(row(idle));
  const findOnly = await measure("find only", fleet, serve, () =>
    load(fleet, { find: r.find, report: 0 }, w),
  );
  out(row(findOnly));
  const reportOnly = await measure("report only", fleet, serve, () =>
    load(fleet, { find: 0, report: r.report }, w),
  );
  out(row(reportOnly));
  // The issue's load: both rates together, nothing else going on.
  const mixed = await measure("mixed", fleet, serve, () => load(fleet, r, w));
  out(row(mixed));
  summary.phases.push(idle, findOnly, reportOnly, mixed);
  if (summary.reference)
    summary.cpuPerReportRatio = reportOnly.cpuPerReportMs / summary.reference.cpuPerReportMs;
  else if (REF === N) summary.cpuPerReportRatio = 1;

  // The same load while the rollouts run (their updates add reports), and at least --duration.
  const steady = await measure(v["no-rollout"] ? "steady" : "rollouts", fleet, serve, async () => {
    const l = fleet.startLoad(r);
    const t0 = performance.now();
    if (!v["no-rollout"]) {
      summary.rollouts.push(await rolloutA(serve.url, fleet));
      summary.rollouts.push(await rolloutB(serve.url, fleet));
    }
    const left = minDurationS * 1000 - (performance.now() - t0);
    if (left > 0) await Bun.sleep(left);
    summary.rss = memoryMiB(serve.pid);
    summary.serveSockets = socketCount(serve.pid);
    l.stop();
    await settle(fleet);
  });
  out(row(steady));
  summary.phases.push(steady);

  if (!v["no-restart"]) {
    await serve.kill();
    live.delete(serve);
    const t = performance.now();
    serve = await serve.restart();
    live.add(serve);
    summary.restartSeconds = (performance.now() - t) / 1000;
    summary.losses.push(await lossCheck("after kill -9 and restart", serve.url, fleet));
  }

  if (!v["no-storm"]) {
    const spread = FIND_PERIOD_S / X;
    const findRate = r.find;
    let allAcked = 0;
    const storm = await measure("storm", fleet, serve, async () => {
      const l = fleet.startLoad({ find: findRate, report: 0 });
      const t0 = performance.now();
      await fleet.storm(spread);
      // Finds go on until every storm report is answered.
      while (fleet.reportBacklog() > 0) await Bun.sleep(5);
      allAcked = (performance.now() - t0) / 1000;
      l.stop();
      await fleet.drain();
    });
    summary.storm = { ...storm, spreadS: spread, allAckedS: allAcked };
    out(row(storm));
    summary.rss = memoryMiB(serve.pid);
  }
  for (const p of [...summary.phases, ...(summary.storm ? [summary.storm] : [])]) {
    const line = problems(p);
    if (line) out(line);
  }
  summary.losses.push(await lossCheck("at the end (live)", serve.url, fleet));
  await serve.stop();
  live.delete(serve);
  return summary;
}

function printSummary(s: Summary): void {
  const mixed = s.phases.find((p) => p.name === "mixed");
  const during = s.phases.find((p) => p.name === "rollouts" || p.name === "steady");
  const duringName = during?.name === "rollouts" ? "during the rollouts" : "steady";
  const reportOnly = s.phases.find((p) => p.name === "report only");
  out();
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
      `CPU per report: ${s.reference ? `${fmt.ms(s.reference.cpuPerReportMs)} ms at ${fmt.int(REF)} agents, ` : ""}${fmt.ms(reportOnly.cpuPerReportMs)} ms at ${fmt.int(s.agents)} agents${s.cpuPerReportRatio !== undefined ? ` (${s.cpuPerReportRatio.toFixed(2)}x)` : ""}`,
    );
  for (const l of s.losses) {
    out(
      `reports lost ${l.when}: ${l.lost} of ${fmt.int(l.checked)} agents' last acknowledged reports (${fmt.int(l.listed)} listed${l.missing ? `, ${l.missing} missing` : ""}${l.unknown ? `, ${l.unknown} unknown` : ""})`,
    );
    for (const x of l.sample) out(`    ${x}`);
  }
  for (const r of s.rollouts) {
    out(`rollout ${r.name}: ${r.right ? "RIGHT" : "WRONG"} (${r.seconds.toFixed(0)} s)`);
    for (const l of r.lines) out(`    ${l}`);
  }
  if (mixed && s.compress === 1) {
    const t = (ok: boolean) => (ok ? "met" : "NOT met");
    out();
    out(`issue 13 targets at ${fmt.int(s.agents)} agents:`);
    out(
      `  serve under 50% of one core (mixed): ${fmt.pct(mixed.serveCpuShare)} ${t(mixed.serveCpuShare < 0.5)}${during ? `; ${duringName} ${fmt.pct(during.serveCpuShare)}` : ""}`,
    );
    out(
      `  p99 under 50 ms (mixed): find ${fmt.ms(mixed.find.p99)}, report ${fmt.ms(mixed.report.p99)} ${t(mixed.find.p99 < 50 && mixed.report.p99 < 50)}${during ? `; ${duringName} find ${fmt.ms(during.find.p99)}, report ${fmt.ms(during.report.p99)}` : ""}`,
    );
    out(`  RSS under 300 MiB: peak ${fmt.mib(s.rss.hwm)} ${t(s.rss.hwm < 300)}`);
    if (s.cpuPerReportRatio !== undefined)
      out(
        `  CPU per report within 1.5x of ${fmt.int(REF)} agents: ${s.cpuPerReportRatio.toFixed(2)}x ${t(s.cpuPerReportRatio <= 1.5)}`,
      );
    if (s.storm)
      out(`  storm find p99 under 100 ms: ${fmt.ms(s.storm.find.p99)} ms ${t(s.storm.find.p99 < 100)}`);
    out(`  0 reports lost: ${t(s.losses.every((l) => l.lost === 0))}`);
  }
}

/** --sweep: one serve, the fleet grown step by step, a steady window at each size. */
async function sweep(release: string[]): Promise<Summary> {
  const steps = [1, 1.5, 2, 3, 5, 7]
    .flatMap((m) => [1e3, 1e4, 1e5, 1e6].map((p) => m * p))
    .sort((a, b) => a - b);
  const sizes = steps.filter((n) => n <= N);
  if (sizes.at(-1) !== N) sizes.push(N);
  out(
    `sweep: up to ${fmt.int(N)} agents in ${G} groups, compress ${X}, ${SWEEP_WINDOW_S} s of steady load (find + report) at each size; serve ${pinned ? "pinned to CPU 0" : "not pinned"}`,
  );
  const serve = await newServe("sweep", release);
  const fleet = newFleet(serve.url, N);
  out(machineLine());
  const summary = emptySummary();
  out(`${"agents".padStart(9)} ${"seed/s".padStart(8)}  ${HEAD.slice(17)}  VmRSS`);
  let best = 0;
  for (const n of sizes) {
    const from = fleet.n;
    fleet.grow(n);
    const seed = await measure("seed", fleet, serve, () => fleet.seed(from, n));
    const p = await measure(`${n}`, fleet, serve, () => load(fleet, rates(n), SWEEP_WINDOW_S));
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
  summary.losses.push(await lossCheck("at the end (live)", serve.url, fleet));
  printSummary({ ...summary, phases: [] });
  await serve.stop();
  live.delete(serve);
  return summary;
}

let code = 2;
try {
  const release = await makeRelease();
  const summary = v.sweep ? await sweep(release) : await mainRun(release);
  if (!v.sweep) printSummary(summary);
  summary.ok = summary.losses.every((l) => l.lost === 0) && summary.rollouts.every((r) => r.right);
  if (v.json) writeFileSync(v.json, `${JSON.stringify(summary, null, 2)}\n`);
  out();
  out(summary.ok ? "fleet: OK (no report lost, every decision right)" : "fleet: FAILED (see above)");
  code = summary.ok ? 0 : 1;
} catch (e) {
  console.error(`fleet: could not run: ${(e as Error).stack ?? e}`);
  for (const s of live) console.error(`serve log:\n${s.logTail()}`);
  code = 2;
}
await cleanup();
process.exit(code);
