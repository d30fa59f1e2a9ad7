/**
 * The dashboard with a large fleet (issue 14): how long `GET /dashboard` takes to render on the server,
 * and the page to load in Chromium, with 100,000 agents in the store, against the same with a small fleet
 * (the baseline, 1,000 agents) in the same run. Also the live refresh (`/dashboard/live`), filtered pages
 * (the last group, which the store answers as "none of the other groups", with a state and a host name
 * prefix; a host name search alone), one host's page, and for scale `GET /v1/agents` (one page of 100, what
 * `admin get agents` reads).
 *
 * Agents are written straight into a fresh data dir through the store (SqliteStore.upsertAgent, a batch of
 * 1,000 at a time, all seen now, over three groups and two versions, some failed), then a real
 * `dist/upkeep serve` opens it, a halt-on-error rollout is applied through the API, and each page is
 * fetched `--runs` times (after two warm-ups) with a logged-in session. Medians. Exit 0 when the
 * 100,000-agent page renders and loads in under 1 s, 1 otherwise.
 *
 * Usage: npm run build && npx bun scripts/bench/dashboard.ts [--agents 100000] [--baseline 1000] [--runs 15]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteStore } from "../../server/sqlite_store.ts";
import { launchChromium } from "../../test/dashboard_browser.ts";
import { type ServeProcess, startServe } from "../../test/serve_process.ts";
import { farHour, haltOnErrorConfig, median } from "./_util.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "100000" },
    baseline: { type: "string", default: "1000" },
    runs: { type: "string", default: "15" },
  },
});
const RUNS = Number(values.runs);
const TOKEN = `bench-${crypto.randomUUID()}`;
const GROUPS = ["canary", "staging", "prod"];

/** A data dir whose store holds `n` agents (1% canary, 9% staging, 90% prod; 1.0.0, 1.1.0, some failed). */
async function fleetDir(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "upkeep-bench-dash-"));
  const store = new SqliteStore(join(dir, "upkeep.db"));
  const now = new Date().toISOString();
  const agent = (i: number) => {
    const group = i % 100 === 0 ? "canary" : i % 10 === 0 ? "staging" : "prod";
    const failed = i % 97 === 0;
    return {
      updater_id: `agent-${String(i).padStart(7, "0")}`,
      hostname: `host-${i}.${group}.example.net`,
      group,
      version: i % 3 === 0 ? "1.1.0" : "1.0.0",
      state: failed ? ("rolledback" as const) : ("ok" as const),
      ...(failed ? { failed_version: "1.1.0", error: "health check failed: exit 1 after 2 s" } : {}),
      last_seen: now,
    };
  };
  // The store commits reports in batches (one transaction each): send a batch's worth at once.
  for (let i = 0; i < n; i += 1000)
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, (_, k) => store.upsertAgent(agent(i + k))),
    );
  store.close();
  return dir;
}

async function api(url: string, method: string, path: string, body: unknown): Promise<void> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
}

async function rollout(url: string): Promise<void> {
  const groups = GROUPS.map((name, i) => ({ name, canary_count: i === 0 ? 2 : 0 }));
  await api(url, "PUT", "/v1/resources/autoupdate_config", haltOnErrorConfig(farHour(), groups));
  await api(url, "POST", "/v1/apply?force=1", {
    resources: [
      {
        kind: "autoupdate_version",
        spec: { agents: { start_version: "1.0.0", target_version: "1.1.0", schedule: "regular" } },
      },
    ],
  });
  await api(url, "POST", "/v1/rollout/groups/canary/force", {});
}

async function login(url: string): Promise<string> {
  const r = await fetch(`${url}/dashboard/login`, {
    method: "POST",
    body: new URLSearchParams({ token: TOKEN }),
    redirect: "manual",
  });
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  if (r.status !== 303 || !cookie) throw new Error(`login: ${r.status}`);
  return cookie;
}

/** Median wall time (ms) of GET path after two warm-ups, the first one's, and the body size. */
async function timeGet(url: string, path: string, headers: Record<string, string>) {
  const times: number[] = [];
  let bytes = 0;
  let first = 0;
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    const r = await fetch(`${url}${path}`, { headers });
    const body = await r.arrayBuffer();
    const t = performance.now() - t0;
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
    bytes = body.byteLength;
    if (i === 0) first = t;
    if (i >= 2) times.push(t);
  }
  return { ms: median(times), bytes, first };
}

/** Median time (ms) for Chromium to load /dashboard (navigation start to the load event), logged in. */
async function chromiumLoad(url: string): Promise<number> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${url}/dashboard/login`);
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${url}/dashboard`);
    const times: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      await page.goto(`${url}/dashboard`, { waitUntil: "load" });
      const t = Number(
        await page.evaluate(
          "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()",
        ),
      );
      if (i >= 2) times.push(t);
    }
    return median(times);
  } finally {
    await browser.close();
  }
}

async function measure(n: number) {
  const t0 = performance.now();
  const dir = await fleetDir(n);
  const fill = performance.now() - t0;
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(dir, [], { UPKEEP_ADMIN_TOKEN: TOKEN });
    await rollout(serve.url);
    const cookie = { cookie: await login(serve.url) };
    const page = await timeGet(serve.url, "/dashboard", cookie);
    const live = await timeGet(serve.url, "/dashboard/live", cookie);
    const filtered = await timeGet(
      serve.url,
      "/dashboard?group=prod&state=rolledback&hostname=host-1",
      cookie,
    );
    const search = await timeGet(serve.url, "/dashboard/live?hostname=HOST-12", cookie);
    const host = await timeGet(serve.url, "/dashboard/hosts/agent-0000097", cookie);
    const agents = await timeGet(serve.url, "/v1/agents", { authorization: `Bearer ${TOKEN}` });
    const browser = await chromiumLoad(serve.url);
    return { n, fill, page, live, filtered, search, host, agents, browser };
  } finally {
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const results = [];
for (const n of [Number(values.baseline), Number(values.agents)]) {
  console.log(`${n} agents: filling the store...`);
  const r = await measure(n);
  console.log(`  filled in ${(r.fill / 1000).toFixed(1)} s`);
  console.log(
    `  GET /dashboard            ${fmt(r.page.ms)} (${(r.page.bytes / 1024).toFixed(0)} KiB; the first, which reads every agent's last report into the history: ${fmt(r.page.first)})`,
  );
  console.log(`  GET /dashboard/live       ${fmt(r.live.ms)}`);
  console.log(`  GET /dashboard?filters    ${fmt(r.filtered.ms)} (last group, state, host name prefix)`);
  console.log(`  GET /dashboard/live?hostname=HOST-12  ${fmt(r.search.ms)}`);
  console.log(`  GET /dashboard/hosts/ID   ${fmt(r.host.ms)}`);
  console.log(`  GET /v1/agents            ${fmt(r.agents.ms)} (${(r.agents.bytes / 1024).toFixed(0)} KiB)`);
  console.log(`  Chromium load /dashboard  ${fmt(r.browser)}`);
  results.push(r);
}
const [base, big] = results as [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>];
console.log(
  `\n${big.n} vs ${base.n} agents (runs: ${RUNS}, medians): server render ${fmt(big.page.ms)} vs ${fmt(base.page.ms)} = ${(big.page.ms / base.page.ms).toFixed(1)}x; Chromium load ${fmt(big.browser)} vs ${fmt(base.browser)} = ${(big.browser / base.browser).toFixed(1)}x; live refresh ${fmt(big.live.ms)}; filtered ${fmt(big.filtered.ms)}; host page ${fmt(big.host.ms)}`,
);
const ok = big.page.ms < 1000 && big.browser < 1000;
console.log(ok ? "target met: under 1 s with the large fleet" : "TARGET MISSED: 1 s with the large fleet");
process.exit(ok ? 0 : 1);
