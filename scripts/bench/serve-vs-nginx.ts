/**
 * find/ping hot-path benchmark (issue 4, DESIGN §4): `wrk` against `/webapi/find?group=prod` on a real
 * `dist/upkeep serve`, and against nginx serving the very same bytes as a static file, one worker each,
 * alternating in the same run. Prints per-round requests/s and p99, the medians, and the ratio
 * upkeep/nginx (target >= 1.0, never below 0.8).
 *
 * Installs nginx and wrk from Debian (apt-get) when missing. Loopback only; every process it starts is
 * stopped by its PID and its temp dir removed, also on failure.
 *
 * Usage: npm run build && npx bun scripts/bench/serve-vs-nginx.ts [--rounds 3] [--duration 8] [--connections 50]
 *        [--upkeep path/to/upkeep]   (default dist/upkeep of this checkout)
 * Exit code: 0 ratio >= 0.8, 1 below the 0.8 floor, 2 the benchmark could not run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import { freePort, haltOnErrorConfig, median, nginxCommand, stop } from "./_util.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "8" },
    connections: { type: "string", default: "50" },
    upkeep: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);
if (!(rounds >= 1 && duration >= 1 && connections >= 1))
  throw new Error("bad --rounds/--duration/--connections");

const root = resolve(import.meta.dir, "../..");
const upkeep = resolve(values.upkeep ?? join(root, "dist/upkeep"));
const TOKEN = "bench";
const PATH = "/webapi/find?group=prod";

const started: Subprocess[] = [];
let dir: string | undefined;

function log(msg: string): void {
  console.log(msg);
}

function which(cmd: string): string | undefined {
  return Bun.which(cmd, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }) ?? undefined;
}

function run(cmd: string[], quiet = true): void {
  const r = Bun.spawnSync(cmd, {
    stdout: quiet ? "ignore" : "inherit",
    stderr: "pipe",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (r.exitCode !== 0)
    throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
}

/** nginx and wrk from Debian when missing: one `apt-get update`, then one install. */
function ensureTools(): { nginx: string; wrk: string } {
  let nginx = which("nginx");
  let wrk = which("wrk");
  if (nginx && wrk) return { nginx, wrk };
  const pkgs: string[] = [];
  if (!wrk) pkgs.push("wrk");
  if (!nginx) {
    // nginx-light exists up to bookworm; later releases only ship `nginx`.
    const p = Bun.spawnSync(["apt-cache", "policy", "nginx-light"], { stdout: "pipe", stderr: "ignore" });
    const candidate = /Candidate:\s*(\S+)/.exec(p.stdout.toString())?.[1];
    pkgs.push(candidate && candidate !== "(none)" ? "nginx-light" : "nginx");
  }
  const sudo = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  log(`installing ${pkgs.join(" ")} from Debian (apt-get) ...`);
  run([...sudo, "apt-get", "update", "-qq"]);
  run([...sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", ...pkgs]);
  nginx = which("nginx");
  wrk = which("wrk");
  if (!nginx || !wrk) throw new Error("nginx or wrk still missing after apt-get install");
  return { nginx, wrk };
}

async function waitFor(url: string, proc: Subprocess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited ${proc.exitCode} before answering`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not answer ${url} within 10 s`);
}

async function api(base: string, method: string, path: string, body: unknown): Promise<void> {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
}

interface WrkResult {
  rps: number;
  requests: number;
  /** CPU time (user + system) the server under test used per request, in µs (Linux /proc; else NaN). */
  cpuUs: number;
  p99ms: number;
  non2xx: number;
  errors: string;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "ms" ? n : unit === "s" ? n * 1000 : n / 60_000;
}

/** CPU ticks (user + system) of a process and its direct children (nginx: master + worker). */
function cpuTicks(pid: number): number {
  try {
    const stat = (p: number | string) => {
      const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return Number(f[11]) + Number(f[12]);
    };
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return kids.reduce((sum, k) => sum + stat(k), stat(pid));
  } catch {
    return Number.NaN;
  }
}
const TICK_US = 1e6 / Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim() || 100);

function runWrk(wrk: string, url: string, seconds: number, pid: number): WrkResult {
  const c0 = cpuTicks(pid);
  const r = Bun.spawnSync([wrk, "-t1", `-c${connections}`, `-d${seconds}s`, "--latency", url], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const c1 = cpuTicks(pid);
  const out = r.stdout.toString();
  if (r.exitCode !== 0) throw new Error(`wrk exited ${r.exitCode}: ${r.stderr.toString()}`);
  const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:[^\n]*/.exec(out)?.[0] ?? "";
  if (!Number.isFinite(rps) || !p) throw new Error(`cannot parse wrk output:\n${out}`);
  return {
    rps,
    requests,
    cpuUs: ((c1 - c0) * TICK_US) / requests,
    p99ms: toMs(p[1] as string, p[2] as string),
    non2xx,
    errors,
  };
}

function row(name: string, rps: number, p99ms: number, cpuUs: number): string {
  return (
    `${name.padEnd(6)} ${rps.toFixed(0).padStart(8)} req/s   p99 ${p99ms.toFixed(2).padStart(6)} ms` +
    `   cpu ${cpuUs.toFixed(1).padStart(5)} µs/req`
  );
}

async function cleanup(): Promise<void> {
  // nginx: SIGQUIT is its graceful shutdown (`nginx -s quit`); upkeep drains on SIGTERM.
  for (let p = started.pop(); p; p = started.pop())
    await stop(p, p === nginxProc ? "SIGQUIT" : "SIGTERM", 3000);
  if (dir) rmSync(dir, { recursive: true, force: true });
}
process.once("SIGINT", () => cleanup().finally(() => process.exit(130)));

let nginxProc: Subprocess | undefined;

async function main(): Promise<void> {
  const t0 = performance.now();
  if (!existsSync(upkeep)) throw new Error(`${upkeep} is missing: run npm run build first`);
  const tools = ensureTools();
  dir = mkdtempSync(join(tmpdir(), "upkeep-bench-nginx-"));
  const { up, upBase, body } = await startUpkeep(dir);
  const { ngBase, nginx } = await startNginx(dir, tools.nginx, body);
  const cores = cpus().length;
  const nginxVersion = Bun.spawnSync([tools.nginx, "-v"], { stderr: "pipe" }).stderr.toString().trim();
  log(`serve-vs-nginx: GET ${PATH} (${body.length} bytes, identical on both)`);
  log(`  upkeep: ${upkeep} serve (Bun ${Bun.version} routes hot path), ${upBase}`);
  log(
    `  nginx:  ${nginxVersion.replace(/^nginx version:\s*/, "")}, worker_processes 1, static file, ${ngBase}`,
  );
  log(`  wrk -t1 -c${connections} -d${duration}s --latency, ${rounds} rounds alternating, 1 s warm-up each`);
  log(
    `  machine: ${cores} cores — wrk (1 thread) and the server under test take one core each; ` +
      `both servers are single-threaded (nginx 1 worker, Bun's one JS thread)`,
  );
  const targets = [
    { name: "nginx", url: ngBase + PATH, pid: nginx.pid },
    { name: "upkeep", url: upBase + PATH, pid: up.pid },
  ] as const;
  const results: Record<string, WrkResult[]> = { nginx: [], upkeep: [] };
  for (const t of targets) runWrk(tools.wrk, t.url, 1, t.pid); // warm-up (JIT, connections)
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first so drift hits both alike.
    const order = i % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const r = runWrk(tools.wrk, t.url, duration, t.pid);
      results[t.name]?.push(r);
      const bad = r.non2xx ? ` non-2xx ${r.non2xx}` : "";
      log(`  round ${i + 1} ${row(t.name, r.rps, r.p99ms, r.cpuUs)}${bad}${r.errors ? `  ${r.errors}` : ""}`);
      if (r.non2xx) throw new Error(`${t.name}: ${r.non2xx} non-2xx responses`);
    }
  }
  report(results.nginx ?? [], results.upkeep ?? []);
  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** `upkeep serve` on a free loopback port, configured so that group=prod gets a find answer; its bytes. */
async function startUpkeep(dir: string): Promise<{ up: Subprocess; upBase: string; body: Uint8Array }> {
  const upPort = await freePort();
  const up = Bun.spawn(
    [
      upkeep,
      "serve",
      "--listen",
      `127.0.0.1:${upPort}`,
      "--data-dir",
      join(dir, "data"),
      "--server-version",
      "17.0.1",
      "--log-format",
      "json",
    ],
    {
      env: { ...process.env, UPKEEP_ADMIN_TOKEN: TOKEN },
      stdout: Bun.file(join(dir, "upkeep.log")),
      stderr: Bun.file(join(dir, "upkeep.log")),
    },
  );
  started.push(up);
  const upBase = `http://127.0.0.1:${upPort}`;
  await waitFor(`${upBase}/readyz`, up, "upkeep serve");
  const groups = [
    { name: "canary", canary_count: 1 },
    { name: "prod", wait_hours: 24 },
  ];
  await api(upBase, "PUT", "/v1/resources/autoupdate_config", haltOnErrorConfig(0, groups));
  await api(upBase, "PUT", "/v1/resources/autoupdate_version?force=1", {
    kind: "autoupdate_version",
    version: "v1",
    metadata: { name: "autoupdate-version" },
    spec: {
      tools: { target_version: "17.0.1" },
      agents: { start_version: "16.4.0", target_version: "17.0.1", schedule: "regular", mode: "enabled" },
    },
  });
  const res = await fetch(upBase + PATH);
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`GET ${PATH}: ${res.status}`);
  const answer = JSON.parse(new TextDecoder().decode(body));
  if (answer.upkeep?.group !== "prod") throw new Error(`group=prod answered for ${answer.upkeep?.group}`);
  return { up, upBase, body };
}

/** nginx (1 worker) serving the very bytes upkeep answered as a static file. */
async function startNginx(
  dir: string,
  nginx: string,
  body: Uint8Array,
): Promise<{ ngBase: string; nginx: Subprocess }> {
  const ngPort = await freePort();
  const www = join(dir, "www");
  mkdirSync(join(www, "webapi"), { recursive: true });
  const file = join(www, "webapi/find.json");
  writeFileSync(file, body);
  const http = `  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${ngPort};
    location = /webapi/find {
      default_type application/json;
      alias ${file};
    }
  }`;
  nginxProc = Bun.spawn(nginxCommand(nginx, dir, { connections: 1024, http }), {
    stdout: "ignore",
    stderr: "inherit",
  });
  started.push(nginxProc);
  const ngBase = `http://127.0.0.1:${ngPort}`;
  await waitFor(ngBase + PATH, nginxProc, "nginx");
  const ngBody = new Uint8Array(await (await fetch(ngBase + PATH)).arrayBuffer());
  if (Buffer.compare(ngBody, body) !== 0) throw new Error("nginx does not serve the same bytes");
  return { ngBase, nginx: nginxProc };
}

/** The medians, the ratio upkeep/nginx against the target and floor, the CPU per request. */
function report(ng: WrkResult[], uk: WrkResult[]): void {
  const ngRps = median(ng.map((r) => r.rps));
  const ukRps = median(uk.map((r) => r.rps));
  const ratio = ukRps / ngRps;
  const paired = uk.map((r, i) => r.rps / (ng[i]?.rps ?? Number.NaN));
  const verdict =
    ratio >= 1
      ? "meets target (>= 1.0)"
      : ratio >= 0.8
        ? "below target 1.0, above floor 0.8"
        : "BELOW FLOOR 0.8";
  const ngCpu = median(ng.map((r) => r.cpuUs));
  const ukCpu = median(uk.map((r) => r.cpuUs));
  log("medians:");
  log(`          ${row("nginx", ngRps, median(ng.map((r) => r.p99ms)), ngCpu)}`);
  log(`          ${row("upkeep", ukRps, median(uk.map((r) => r.p99ms)), ukCpu)}`);
  log(`ratio upkeep/nginx (median req/s): ${ratio.toFixed(2)}x  (${verdict})`);
  log(`  per-round ratios: ${paired.map((x) => `${x.toFixed(2)}x`).join(" ")}`);
  log(
    `  server CPU per request: upkeep ${ukCpu.toFixed(1)} µs vs nginx ${ngCpu.toFixed(1)} µs ` +
      `(${(ngCpu / ukCpu).toFixed(2)}x efficiency; less sensitive to other load on the machine)`,
  );
  if (ratio < 0.8) process.exitCode = 1;
}

try {
  await main();
} catch (e) {
  console.error(`serve-vs-nginx: ${(e as Error).message}`);
  for (const f of ["upkeep.log", "nginx-error.log"]) {
    const p = dir ? join(dir, f) : "";
    if (p && existsSync(p)) console.error(`--- ${f} (tail) ---\n${(await Bun.file(p).text()).slice(-2000)}`);
  }
  process.exitCode = 2;
} finally {
  await cleanup();
}
