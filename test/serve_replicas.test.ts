/**
 * Issue 15 with real processes: three `dist/upkeep serve --store URL` replicas on loopback over one
 * throwaway PostgreSQL (test/pg_harness.ts). Changes made on one are answered by the others within a
 * second; reports to any replica count in the reconciling one's decisions; a canary's failure reported to
 * another replica halts the rollout; kill -9 of the reconciling replica mid-rollout hands over within 10 s
 * with every transition written exactly once; PostgreSQL stopped and started: find never fails, writes
 * answer 503 and then recover.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { type Postgres, pgSkip, startPostgres } from "./pg_harness.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

const ADMIN = "admin-token-replicas-test";
const AGENT = "agent-token-replicas-test";
const skip = pgSkip("test/serve_replicas.test.ts");

let pg: Postgres;
let running: ServeProcess[] = [];
beforeAll(async () => {
  if (!skip) pg = await startPostgres();
});
afterEach(async () => {
  const stopping = running;
  running = [];
  // Each replica stops on SIGTERM within 10 s (else it is killed, and the test fails saying so).
  const stuck: string[] = [];
  for (const s of stopping) {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
    process.kill(s.proc.pid, "SIGTERM");
    const done = await Promise.race([s.proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
    if (done) continue;
    process.kill(s.proc.pid, "SIGKILL");
    stuck.push(`${s.url}:\n${s.stderr()}`);
  }
  if (stuck.length > 0) throw new Error(`replicas did not stop on SIGTERM:\n${stuck.join("\n")}`);
});
afterAll(async () => {
  await pg?.stop();
});

/** Three replicas (a first: it takes the lease) on a new database of the test's PostgreSQL. */
async function replicas(n = 3): Promise<{ url: string; servers: ServeProcess[] }> {
  const url = await pg.createDatabase();
  const servers: ServeProcess[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(join(tmpdir(), `upkeep-replica-${i}-`));
    const s = await startServe(dir, ["--store", url, "--server-version", "1.1.0"], {
      UPKEEP_ADMIN_TOKEN: ADMIN,
      UPKEEP_AGENT_TOKEN: AGENT,
    });
    running.push(s);
    servers.push(s);
  }
  return { url, servers };
}

/** Three replicas, named. */
async function threeReplicas(): Promise<{ url: string; a: ServeProcess; b: ServeProcess; c: ServeProcess }> {
  const {
    url,
    servers: [a, b, c],
  } = await replicas();
  if (!a || !b || !c) throw new Error("three replicas");
  return { url, a, b, c };
}

const call = (s: ServeProcess, method: string, path: string, body?: string, token = ADMIN) =>
  fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/yaml" },
    ...(body === undefined ? {} : { body }),
  });

async function ok(r: Promise<Response>, status = 200): Promise<Response> {
  const res = await r;
  if (res.status !== status) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return res;
}

const FAR = (new Date().getUTCHours() + 12) % 24; // windows stay closed: the operator drives the groups

async function setRollout(s: ServeProcess): Promise<void> {
  await ok(
    call(
      s,
      "PUT",
      "/v1/resources/autoupdate_config?force=1",
      `kind: autoupdate_config\nspec:\n  agents:\n    strategy: halt-on-error\n    schedules:\n      regular:\n        - { name: canary, days: ["*"], start_hour: ${FAR}, canary_count: 1 }\n        - { name: prod, days: ["*"], start_hour: ${FAR}, wait_hours: 0 }\n`,
    ),
  );
  await ok(
    call(
      s,
      "PUT",
      "/v1/resources/autoupdate_version?force=1",
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.1.0, mode: enabled }\n",
    ),
  );
}

function report(s: ServeProcess, id: string, group: string, version: string, state = "ok") {
  const body = {
    updater_id: id,
    hostname: `${id}.test`,
    group,
    version,
    state,
    ...(state === "rolledback" ? { failed_version: "1.1.0" } : {}),
  };
  return ok(
    fetch(`${s.url}/v1/agents/report`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

type Find = { agent_version: string; agent_auto_update: boolean };
async function find(s: ServeProcess, group: string, id = ""): Promise<Find> {
  const r = await ok(fetch(`${s.url}/v1/webapi/find?group=${group}&updater_id=${id}`));
  return ((await r.json()) as { auto_update: Find }).auto_update;
}

type GroupView = {
  name: string;
  state: string;
  present_count: number;
  canaries: { updater_id: string }[];
};
type EventView = { group: string; from: string; to: string; reason: string };
async function rollout(s: ServeProcess): Promise<{ groups: Record<string, GroupView>; events: EventView[] }> {
  const v = (await (await ok(call(s, "GET", "/v1/rollout"))).json()) as {
    groups: GroupView[];
    events: EventView[];
  };
  return { groups: Object.fromEntries(v.groups.map((g) => [g.name, g])), events: v.events };
}

type Health = {
  status: string;
  reconciler: boolean;
  store: { ok: boolean; reason?: string; since?: string };
};
async function health(s: ServeProcess): Promise<Health> {
  return (await (await ok(fetch(`${s.url}/healthz`))).json()) as Health;
}

/** Polls `check` every 20 ms until it holds; answers how long it took (ms), or throws after `ms`. */
async function within(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(20);
  }
}

/** The transitions the database holds, in order, as `group: from->to`. */
async function transitions(url: string): Promise<string[]> {
  const sql = new SQL(url, { max: 1 });
  try {
    const rows =
      (await sql`SELECT grp, from_state, to_state FROM events WHERE to_state <> '' ORDER BY seq`) as {
        grp: string;
        from_state: string;
        to_state: string;
      }[];
    return rows.map((r) => `${r.grp}: ${r.from_state}->${r.to_state}`);
  } finally {
    await sql.close();
  }
}

describe.skipIf(skip)("three serve replicas on one PostgreSQL", () => {
  test("a change applied on A is answered by B and C within 1 s; a token made on A works on B", async () => {
    const { a, b, c } = await threeReplicas();
    expect(await find(b, "prod")).toMatchObject({ agent_version: "" });
    await setRollout(a);
    const tb = within(
      "B answers A's version",
      1000,
      async () => (await find(b, "prod")).agent_version === "1.0.0",
    );
    const tc = within(
      "C answers A's version",
      1000,
      async () => (await find(c, "prod")).agent_version === "1.0.0",
    );
    const [msB, msC] = await Promise.all([tb, tc]);
    console.error(
      `[figure] a resource applied on A answered by B after ${msB.toFixed(0)} ms, by C after ${msC.toFixed(0)} ms`,
    );

    await report(a, "c1", "canary", "1.0.0");
    await ok(call(a, "POST", "/v1/rollout/groups/canary/start"));
    await within("B and C tell the canary to update", 1000, async () => {
      const [fb, fc] = await Promise.all([find(b, "canary", "c1"), find(c, "canary", "c1")]);
      return fb.agent_version === "1.1.0" && fc.agent_version === "1.1.0" && fb.agent_auto_update;
    });

    const made = (await (await ok(call(a, "POST", "/v1/tokens", '{"type":"agent"}'), 201)).json()) as {
      token: string;
    };
    await within("B takes A's new agent token", 1000, async () => {
      const r = await fetch(`${b.url}/v1/agents/report`, {
        method: "POST",
        headers: { authorization: `Bearer ${made.token}`, "content-type": "application/json" },
        body: JSON.stringify({ updater_id: "t1", hostname: "t1", version: "1.0.0", state: "ok" }),
      });
      return r.status === 200;
    });
  }, 60_000);

  test("reports sent to B and C count in A's rollout view; a canary's failure reported to C halts the rollout", async () => {
    const { a, b, c } = await threeReplicas();
    expect((await health(a)).reconciler).toBe(true);
    expect([(await health(b)).reconciler, (await health(c)).reconciler]).toEqual([false, false]);
    await setRollout(a);
    for (const id of ["c1", "c2"]) await report(b, id, "canary", "1.0.0");
    for (const id of ["p1", "p2", "p3"]) await report(c, id, "prod", "1.0.0");
    await within("A counts B's and C's reports", 5000, async () => {
      const g = (await rollout(a)).groups;
      return g.canary?.present_count === 2 && g.prod?.present_count === 3;
    });

    await ok(call(b, "POST", "/v1/rollout/groups/canary/start"));
    const canary = (await rollout(a)).groups.canary?.canaries[0]?.updater_id as string;
    expect(["c1", "c2"]).toContain(canary);
    await within("C tells the canary to update", 1000, async () => {
      const f = await find(c, "canary", canary);
      return f.agent_version === "1.1.0" && f.agent_auto_update;
    });
    await report(c, canary, "canary", "1.0.0", "rolledback");
    const ms = await within("A rolls the canary group back", 5000, async () => {
      return (await rollout(a)).groups.canary?.state === "rolledback";
    });
    console.error(
      `[figure] a canary failure reported to C rolled its group back on A after ${ms.toFixed(0)} ms`,
    );
    // Later groups are halted, on every replica.
    expect((await call(c, "POST", "/v1/rollout/groups/prod/start")).status).toBe(409);
    for (const s of [a, b, c]) {
      expect((await rollout(s)).groups.prod?.state).toBe("unstarted");
      expect(await find(s, "prod", "p1")).toMatchObject({ agent_version: "1.0.0", agent_auto_update: false });
      // The canary is told back to the start version (by every replica within a second).
      await within("the canary is told back", 1000, async () => {
        return (await find(s, "canary", canary)).agent_version === "1.0.0";
      });
    }
  }, 60_000);

  test("kill -9 of the reconciling replica mid-rollout: another takes over within 10 s; every transition once", async () => {
    const { url, a, b, c } = await threeReplicas();
    await setRollout(a);
    for (const id of ["c1", "c2"]) await report(b, id, "canary", "1.0.0");
    for (const id of ["p1", "p2"]) await report(c, id, "prod", "1.0.0");
    await within("A counts them", 5000, async () => (await rollout(a)).groups.prod?.present_count === 2);
    await ok(call(c, "POST", "/v1/rollout/groups/canary/start"));
    const canary = (await rollout(a)).groups.canary?.canaries[0]?.updater_id as string;
    await report(b, canary, "canary", "1.1.0");
    await within("the leader moves canary to active", 5000, async () => {
      return (await rollout(a)).groups.canary?.state === "active";
    });

    // The leader dies without a word; the other canary agent updates meanwhile.
    process.kill(a.proc.pid, "SIGKILL");
    await a.proc.exited;
    const t0 = performance.now();
    await report(c, canary === "c1" ? "c2" : "c1", "canary", "1.1.0");
    await within(
      "B or C takes over",
      10_000,
      async () => (await health(b)).reconciler || (await health(c)).reconciler,
    );
    const took = performance.now() - t0;
    console.error(
      `[figure] kill -9 of the reconciling replica: another took over after ${took.toFixed(0)} ms`,
    );
    await within("the new leader finishes the canary group", 10_000, async () => {
      return (await rollout(b)).groups.canary?.state === "done";
    });
    await ok(call(b, "POST", "/v1/rollout/groups/prod/start"));
    for (const id of ["p1", "p2"]) await report(c, id, "prod", "1.1.0");
    await within("prod done", 10_000, async () => (await rollout(c)).groups.prod?.state === "done");

    expect(await transitions(url)).toEqual([
      "canary: unstarted->canary",
      "canary: canary->active",
      "canary: active->done",
      "prod: unstarted->active",
      "prod: active->done",
    ]);
    // Exactly one leader among the survivors.
    expect([(await health(b)).reconciler, (await health(c)).reconciler].filter(Boolean)).toHaveLength(1);
  }, 90_000);

  test("the reconciling replica frozen (SIGSTOP): another takes over within 10 s; thawed, it writes nothing stale", async () => {
    const { url, a, b, c } = await threeReplicas();
    await setRollout(a);
    for (const id of ["c1", "c2"]) await report(b, id, "canary", "1.0.0");
    await within("A counts them", 5000, async () => (await rollout(a)).groups.canary?.present_count === 2);

    // Frozen with its connections open: PostgreSQL closes its silent lease session, which frees the lock.
    process.kill(a.proc.pid, "SIGSTOP");
    const t0 = performance.now();
    try {
      await within(
        "B or C takes over",
        10_000,
        async () => (await health(b)).reconciler || (await health(c)).reconciler,
      );
      console.error(
        `[figure] the reconciling replica frozen: another took over after ${(performance.now() - t0).toFixed(0)} ms`,
      );
      await ok(call(b, "POST", "/v1/rollout/groups/canary/start"));
    } finally {
      process.kill(a.proc.pid, "SIGCONT");
    }
    const canary = (await rollout(b)).groups.canary?.canaries[0]?.updater_id as string;
    // At once, to the thawed replica, which may still believe it leads: a report that decides.
    await report(a, canary, "canary", "1.1.0");
    await within("A knows it lost the lease", 5000, async () => !(await health(a)).reconciler);
    await within(
      "the canary group goes active",
      5000,
      async () => (await rollout(c)).groups.canary?.state === "active",
    );
    await report(c, canary === "c1" ? "c2" : "c1", "canary", "1.1.0");
    await within(
      "the canary group is done",
      5000,
      async () => (await rollout(a)).groups.canary?.state === "done",
    );
    expect(await transitions(url)).toEqual([
      "canary: unstarted->canary",
      "canary: canary->active",
      "canary: active->done",
    ]);
    const leaders = await Promise.all([a, b, c].map(async (s) => (await health(s)).reconciler));
    expect(leaders.filter(Boolean)).toHaveLength(1);
    expect(a.stderr()).toContain("reconciler lease lost");
  }, 90_000);

  test("PostgreSQL stopped and started: find never fails, writes answer 503 with the reason, then recover", async () => {
    const { a, b, c } = await threeReplicas();
    await setRollout(a);
    await report(a, "c1", "canary", "1.0.0");
    await ok(call(a, "POST", "/v1/rollout/groups/canary/start"));
    await within("every replica tells the canary to update", 2000, async () => {
      const all = await Promise.all([a, b, c].map((s) => find(s, "canary", "c1")));
      return all.every((f) => f.agent_version === "1.1.0");
    });
    const before = await Promise.all([a, b, c].map((s) => find(s, "canary", "c1")));

    // Finds in a loop on every replica, all through the outage.
    let polling = true;
    const finds = { n: 0, failed: [] as string[] };
    const poll = (async () => {
      while (polling) {
        for (const [i, s] of [a, b, c].entries()) {
          const r = await fetch(`${s.url}/webapi/find?group=canary&updater_id=c1`).catch((e) => String(e));
          finds.n++;
          if (typeof r === "string" || r.status !== 200)
            finds.failed.push(typeof r === "string" ? r : `${r.status}`);
          else {
            const body = ((await r.json()) as { auto_update: Find }).auto_update;
            if (JSON.stringify(body) !== JSON.stringify(before[i])) finds.failed.push(JSON.stringify(body));
          }
        }
        await Bun.sleep(10);
      }
    })();

    await pg.stopServer();
    for (const s of [a, b, c]) {
      await within("writes answer 503", 10_000, async () => {
        const r = await call(s, "PUT", "/v1/server?force=1", "server_version: 1.2.0");
        return r.status === 503 && (await r.text()).includes("cannot be reached");
      });
      const rep = await fetch(`${s.url}/v1/agents/report`, {
        method: "POST",
        headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json" },
        body: JSON.stringify({
          updater_id: "p1",
          hostname: "p1",
          group: "prod",
          version: "1.0.0",
          state: "ok",
        }),
      });
      expect(rep.status).toBe(503);
      const h = await health(s);
      expect(h.status).toBe("ok");
      expect(h.store.ok).toBe(false);
      expect(h.store.reason).toContain("cannot be reached");
      expect((await fetch(`${s.url}/readyz`)).status).toBe(503);
    }
    await Bun.sleep(2000); // an outage of a few seconds, finds going on
    await pg.startServer();
    for (const s of [a, b, c]) {
      await within(
        "writes accepted again",
        20_000,
        async () => (await call(s, "PUT", "/v1/server?force=1", "server_version: 1.1.0")).status === 200,
      );
      await within("healthy store", 10_000, async () => (await health(s)).store.ok);
    }
    await within("a replica reconciles again", 10_000, async () => {
      const hs = await Promise.all([a, b, c].map(health));
      return hs.filter((h) => h.reconciler).length === 1;
    });
    polling = false;
    await poll;
    expect(finds.failed).toEqual([]);
    expect(finds.n).toBeGreaterThan(30);
    for (const s of [a, b, c]) {
      const lines = s.stderr().split("\n");
      expect(lines.filter((l) => l.includes("database unavailable"))).toHaveLength(1);
      expect(lines.filter((l) => l.includes("database available again"))).toHaveLength(1);
    }
  }, 120_000);
});
