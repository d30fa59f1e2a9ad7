/**
 * Issue 13 on the compiled `dist/upkeep serve`: reports are written in batches, yet every report answered
 * 2xx survives kill -9; `admin get agents` pages and filters and says how many match; agents not seen for
 * `--agent-retention` are deleted (and counted in /metrics).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { upkeep } from "./cli.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

const ADMIN = "admin-token-fleet-test";
const AGENT = "agent-token-fleet-test";
const ENV = { UPKEEP_ADMIN_TOKEN: ADMIN, UPKEEP_AGENT_TOKEN: AGENT };
const started: ServeProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of started) if (s.proc.exitCode === null && !s.proc.killed) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "upkeep-fleet-e2e-"));
  dirs.push(d);
  return d;
}

async function serve(dir: string, args: string[] = []): Promise<ServeProcess> {
  const s = await startServe(dir, args, ENV);
  started.push(s);
  return s;
}

function report(s: ServeProcess, id: string, group = "prod", version = "1.0.0"): Promise<Response> {
  return fetch(`${s.url}/v1/agents/report`, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json" },
    body: JSON.stringify({ updater_id: id, hostname: `${id}.example`, group, version, state: "ok" }),
  });
}

async function get(s: ServeProcess, path: string): Promise<Response> {
  return fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
}

/** Every agent the server lists, page after page. */
async function listAll(s: ServeProcess): Promise<Map<string, { version: string }>> {
  const out = new Map<string, { version: string }>();
  let cursor: string | null = null;
  do {
    const r = await get(s, `/v1/agents?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(r.status).toBe(200);
    const page = (await r.json()) as {
      agents: { updater_id: string; version: string }[];
      next: string | null;
    };
    for (const a of page.agents) out.set(a.updater_id, a);
    cursor = page.next;
  } while (cursor !== null);
  return out;
}

describe("reports written in batches", () => {
  test("kill -9 in the middle of a burst: every report answered 2xx is there after a restart", async () => {
    const dir = tmp();
    const s = await serve(dir);
    const acked: string[] = [];
    let killed = false;
    const ids = Array.from({ length: 3000 }, (_, i) => `burst-${i}`);
    let next = 0;
    // 128 reports in flight; serve is killed (SIGKILL, no drain) as soon as 1,500 were acknowledged, while
    // the others are still open or waiting for their batch.
    const worker = async () => {
      while (!killed && next < ids.length) {
        const id = ids[next++] as string;
        const r = await report(s, id).catch(() => undefined);
        if (r === undefined || killed) return;
        await r.arrayBuffer();
        if (r.status !== 200) continue;
        acked.push(id);
        if (acked.length >= 1500 && !killed) {
          killed = true;
          process.kill(s.proc.pid, "SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 128 }, worker));
    await s.proc.exited;
    expect(acked.length).toBeGreaterThanOrEqual(1500);
    const again = await serve(dir);
    const listed = await listAll(again);
    const lost = acked.filter((id) => !listed.has(id));
    expect(lost).toEqual([]);
  });
});

describe("admin get agents", () => {
  test("one page, how many match, the command for the next page; --json has total and next", async () => {
    const s = await serve(tmp());
    const config = await fetch(`${s.url}/v1/resources/autoupdate_config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/yaml" },
      body: `kind: autoupdate_config
spec:
  agents:
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: 8 }
        - { name: prod, days: ["*"], start_hour: 9 }
`,
    });
    expect(config.status).toBe(200);
    for (let i = 0; i < 150; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          report(s, `a${String(i + k).padStart(3, "0")}`, (i + k) % 3 === 0 ? "canary" : "prod").then((r) =>
            r.arrayBuffer(),
          ),
        ),
      );
    const env = { UPKEEP_SERVER: s.url, UPKEEP_TOKEN: ADMIN, COLUMNS: "160" };
    const page1 = await upkeep(["admin", "get", "agents", "--group", "canary", "--limit", "20"], { env });
    expect(page1.code).toBe(0);
    expect(page1.stdout).toContain("20 of 50 agents matching --group canary");
    const cmd = /next page: upkeep (admin get agents .*--cursor (\S+))$/m.exec(page1.stdout);
    expect(cmd?.[1]).toContain("--group canary --limit 20 --cursor");
    const page2 = await upkeep(
      ["admin", "get", "agents", "--group", "canary", "--limit", "20", "--cursor", cmd?.[2] as string],
      {
        env,
      },
    );
    expect(page2.stdout).toContain("20 of 50 agents matching --group canary");
    expect(page2.stdout).toContain("a060");
    expect(page2.stdout).not.toContain("a000");
    const json = JSON.parse(
      (await upkeep(["admin", "get", "agents", "--hostname", "a14", "--json"], { env })).stdout,
    ) as { agents: { updater_id: string }[]; total: number; next: string | null };
    expect(json.agents.map((a) => a.updater_id)).toEqual(Array.from({ length: 10 }, (_, i) => `a14${i}`));
    expect(json).toMatchObject({ total: 10, next: null });
    const bad = await upkeep(["admin", "get", "agents", "--state", "happy"], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("state");
  });
});

describe("retention", () => {
  test("an agent not seen for --agent-retention is deleted and counted in upkeep_agents_pruned_total", async () => {
    const s = await serve(tmp(), [
      "--reconcile-interval",
      "100ms",
      "--agent-timeout",
      "1s",
      "--agent-retention",
      "2s",
    ]);
    expect((await report(s, "gone")).status).toBe(200);
    expect((await listAll(s)).has("gone")).toBe(true);
    // Pruned within seconds (2 s retention, a pass every second); 20 s is far beyond.
    const deadline = Date.now() + 20_000;
    let metrics = "";
    while (Date.now() < deadline) {
      metrics = await (await get(s, "/metrics")).text();
      if (/^upkeep_agents_pruned_total 1$/m.test(metrics)) break;
      await Bun.sleep(200);
    }
    expect(metrics).toMatch(/^upkeep_agents_pruned_total 1$/m);
    expect((await listAll(s)).size).toBe(0);
    expect(s.stderr()).toContain("agents pruned");
  });

  test("a retention shorter than the agent timeout is refused, naming both", async () => {
    const r = await upkeep([
      "serve",
      "--data-dir",
      tmp(),
      "--agent-retention",
      "5m",
      "--listen",
      "127.0.0.1:0",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--agent-retention: must be at least --agent-timeout");
  });
});
