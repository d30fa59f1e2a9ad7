/**
 * Replicas in one process on a real PostgreSQL (test/pg_harness.ts): each its own PgStore, PgLease,
 * RolloutService and Replica, as `serve --store URL` wires them (server/boot.ts). What one writes reaches
 * the other through NOTIFY within a second; the lease moves when its holder goes, and the new holder
 * reconciles. test/serve_replicas.test.ts does it with three real processes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Rollout } from "../core/rollout/types.ts";
import { type Postgres, pgSkip, startPostgres } from "../test/pg_harness.ts";
import { PgLease } from "./pg_lease.ts";
import { PgStore } from "./pg_store.ts";
import { Replica } from "./replica.ts";
import { RolloutService } from "./rollout_service.ts";
import { replicaResources } from "./test_harness.ts";
import { TokenChecker } from "./tokens.ts";

const skip = pgSkip("server/replica_pg.test.ts");
let pg: Postgres;
beforeAll(async () => {
  if (!skip) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const { config: CONFIG, version: VERSION } = replicaResources(
  (new Date().getUTCHours() + 12) % 24,
  "1.0.0",
  "1.1.0",
);

interface Node {
  store: PgStore;
  lease: PgLease;
  rollout: RolloutService;
  logs: string[];
  /** Stops it as a process exit would: its sessions closed. */
  stop(): Promise<void>;
}

async function node(url: string): Promise<Node> {
  const logs: string[] = [];
  const log = (m: string, f?: Record<string, unknown>) =>
    logs.push(`${m}${f ? ` ${JSON.stringify(f)}` : ""}`);
  const store = await PgStore.open(url, { reportBatchMs: 1 });
  const lease = await PgLease.start({ url, everyMs: 200, log });
  const rollout = new RolloutService({
    store,
    info: { product: "hello", clusterName: "test", edition: "oss", fips: false, jitterSeconds: 0 },
    serverVersion: "1.1.0",
    now: () => new Date(),
    presenceMs: 10 * 60_000,
    shared: true,
    lease,
    log,
  });
  await rollout.load();
  const replica = await Replica.start({ store, rollout, tokens: new TokenChecker(store), lease, log });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    rollout.close();
    await replica.close();
    await lease.close();
    await store.close();
  };
  closers.push(stop);
  return { store, lease, rollout, logs, stop };
}

async function within(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(5);
  }
  return performance.now() - t0;
}

const findVersion = (n: Node, group: string) =>
  (JSON.parse(n.rollout.findBody(group, "")) as { auto_update: { agent_version: string } }).auto_update
    .agent_version;

describe.skipIf(skip)("replicas on PostgreSQL, in one process", () => {
  test("a change on one is answered by the other within a second (NOTIFY, not the 5 s re-read)", async () => {
    const url = await pg.createDatabase();
    const a = await node(url);
    const b = await node(url);
    expect(a.lease.held()).toBe(true);
    expect(b.lease.held()).toBe(false);
    await a.rollout.putConfig(CONFIG);
    await a.rollout.putVersion(VERSION);
    const ms = await within("b answers a's version", 1000, () => findVersion(b, "prod") === "1.0.0");
    expect(ms).toBeLessThan(1000);
    await b.rollout.action("canary", "start"); // no agents: started, done an hour later (Teleport's rule)
    const started = (await b.rollout.view()).groups.find((x) => x.name === "canary")?.state;
    expect(started).not.toBe("unstarted");
    await within("a follows b's action", 1000, async () => {
      const g = (await a.rollout.view()).groups.find((x) => x.name === "canary");
      return g?.state === started;
    });
  }, 30_000);

  test("the lease holder stops: the other takes the lease and reconciles what it had not", async () => {
    const url = await pg.createDatabase();
    const a = await node(url);
    const b = await node(url);
    await a.rollout.putConfig(CONFIG);
    await a.rollout.putVersion(VERSION);
    const gen = (await a.store.getRolloutState())?.generation ?? 0;
    await a.stop();
    // A report to b: counted by b at once, reconciled only once b leads.
    await b.rollout.report({
      updater_id: "p1",
      hostname: "p1",
      group: "prod",
      version: "1.0.0",
      state: "ok",
      last_seen: new Date().toISOString(),
    });
    await within("b leads", 5000, () => b.lease.held());
    await within(
      "b reconciled",
      5000,
      async () => ((await b.store.getRolloutState())?.generation ?? 0) > gen,
    );
    const r = (await b.store.getRolloutState())?.value as Rollout;
    expect(r.groups.find((g) => g.name === "prod")?.presentCount).toBe(1);
    expect(b.logs.filter((l) => l.startsWith("reconciler lease taken"))).toHaveLength(1);
  }, 30_000);
});
