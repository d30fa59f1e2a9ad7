/**
 * Replicas in one process (issue 15): several RolloutServices over ONE store (the SQLite store tells every
 * subscriber of its writes, as PostgreSQL's NOTIFY tells every replica), each with its own lease. Fencing
 * (a stale write refused, re-decided), the lease (only its holder reconciles), reports counted across
 * replicas, changes followed within a second, and the store going away (find unchanged, logged once).
 * test/serve_replicas.test.ts does the same with real processes on a real PostgreSQL.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Rollout } from "../core/rollout/types.ts";
import { ManualLease } from "./lease.ts";
import { Replica } from "./replica.ts";
import { RolloutService } from "./rollout_service.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { type AgentRecord, type Store, StoreUnavailableError } from "./store.ts";
import { harness, manifestDoc, replicaResources, selfManifestDoc } from "./test_harness.ts";
import { hashToken, TokenChecker } from "./tokens.ts";

const FAR = 20; // 08:30 on the fake clock: windows from 20:00 are closed, the operator starts groups
const { config: CONFIG, version: VERSION } = replicaResources(FAR, "16.4.0", "17.0.1");

const clock = { now: new Date("2026-11-23T08:30:00Z") };
const now = () => clock.now;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Node {
  name: string;
  rollout: RolloutService;
  lease: ManualLease;
  tokens: TokenChecker;
  logs: string[];
}

async function node(
  name: string,
  store: Store,
  held: boolean,
  readArtifact?: (name: string) => Promise<string | undefined>,
  ownVersion?: string,
): Promise<Node> {
  const logs: string[] = [];
  const lease = new ManualLease(held);
  const rollout = new RolloutService({
    store,
    info: { product: "hello", clusterName: "test", edition: "oss", fips: false, jitterSeconds: 0 },
    serverVersion: "17.0.1",
    now,
    random: () => 0,
    presenceMs: 10 * 60_000,
    shared: true,
    lease,
    ...(readArtifact ? { readArtifact } : {}),
    ...(ownVersion ? { ownVersion } : {}),
    log: (m, f) => logs.push(`${m}${f ? ` ${JSON.stringify(f)}` : ""}`),
  });
  await rollout.load();
  closers.push(() => rollout.close());
  return { name, rollout, lease, tokens: new TokenChecker(store), logs };
}

async function replica(n: Node, store: Store): Promise<Replica> {
  const r = await Replica.start({
    store,
    rollout: n.rollout,
    tokens: n.tokens,
    lease: n.lease,
    log: (m, f) => n.logs.push(`${m}${f ? ` ${JSON.stringify(f)}` : ""}`),
    rereadMs: 300,
    agentsMs: 50,
    healthMs: 20,
    maxBackoffMs: 200,
  });
  closers.push(() => r.close());
  return r;
}

/** One store for every replica, holding a small fleet: c1, c2 in canary, p1, p2 in prod (16.4.0, ok). */
async function sharedStore(): Promise<SqliteStore> {
  const store = new SqliteStore(":memory:", { reportBatchMs: 1 });
  closers.push(() => store.close());
  for (const [id, g] of [
    ["c1", "canary"],
    ["c2", "canary"],
    ["p1", "prod"],
    ["p2", "prod"],
  ] as const)
    await store.upsertAgent(agent(id, g));
  return store;
}

/** `a`, the lease holder, puts the config and version (the rollout is made); then `b`, reading it. */
async function rolloutOn(store: Store): Promise<{ a: Node; b: Node }> {
  const a = await node("a", store, true);
  await a.rollout.putConfig(CONFIG);
  await a.rollout.putVersion(VERSION);
  return { a, b: await node("b", store, false) };
}

/** The clock moves on by `ms` (reports are stamped with it). */
const tick = (ms = 1000) => {
  clock.now = new Date(clock.now.getTime() + ms);
};

const agent = (id: string, group: string, version = "16.4.0", state = "ok"): AgentRecord =>
  ({
    updater_id: id,
    hostname: `${id}.test`,
    group,
    version,
    state,
    last_seen: clock.now.toISOString(),
  }) as AgentRecord;

const group = (r: Rollout | undefined, name: string) => r?.groups.find((g) => g.name === name);

async function stored(store: Store): Promise<{ rollout: Rollout | undefined; generation: number }> {
  const st = await store.getRolloutState();
  return { rollout: st?.value as Rollout | undefined, generation: st?.generation ?? 0 };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 1000): Promise<number> {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(5);
  }
  return performance.now() - t0;
}

/**
 * An artifacts dir every replica reads (`--artifacts-shared`): `publish` does what an upload on another
 * replica does, the file into the dir, then its record (which notifies), with a new sha256 each time.
 */
function sharedArtifacts(store: Store) {
  const dir = mkdtempSync(join(tmpdir(), "upkeep-artifacts-"));
  let published = 0;
  return {
    read: async (name: string) => {
      const f = Bun.file(join(dir, name));
      return (await f.exists()) ? await f.text() : undefined;
    },
    publish: async (name: string, doc: unknown) => {
      const text = JSON.stringify(doc);
      await Bun.write(join(dir, name), text);
      const sha256 = String(++published).repeat(64);
      await store.putArtifact({ name, size: text.length, sha256, uploaded: "" });
    },
  };
}

async function viewGroup(n: Node, name: string) {
  return (await n.rollout.view()).groups.find((g) => g.name === name);
}

describe("fencing: the rollout is written with compare-and-swap on its generation", () => {
  test("a replica that missed another's write does not overwrite it: refused, re-read, decided again", async () => {
    const store = await sharedStore();
    const { a, b } = await rolloutOn(store); // b reads the rollout a created
    expect(group((await stored(store)).rollout, "canary")?.state).toBe("unstarted");

    // The operator starts the canary group on b; a does not hear of it (no notifications in this test).
    await b.rollout.action("canary", "start");
    expect(group((await stored(store)).rollout, "canary")?.state).toBe("canary");

    // a, the lease holder, reconciles over what it holds (canary unstarted) after a report moved its counts.
    tick();
    await a.rollout.report(agent("p3", "prod"));
    await a.rollout.reconcile();
    const after = await stored(store);
    expect(group(after.rollout, "canary")?.state).toBe("canary"); // the old code wrote "unstarted" back
    expect(group(after.rollout, "prod")?.presentCount).toBe(3); // a's decision, over b's write
    const starts = (await store.listEvents(100)).filter((e) => e.group === "canary" && e.to === "canary");
    expect(starts).toHaveLength(1);
  });

  test("an action over a rollout another replica moved is applied to what it wrote", async () => {
    const store = await sharedStore();
    const { a, b } = await rolloutOn(store);
    await a.rollout.action("canary", "start");
    // b still holds "unstarted": done on it must not write its stale copy; over a's, the group is done.
    await b.rollout.action("canary", "done");
    const r = (await stored(store)).rollout;
    expect(group(r, "canary")?.state).toBe("done");
    const events = (await store.listEvents(100)).filter((e) => e.group === "canary" && e.to !== "");
    expect(events.map((e) => `${e.from}->${e.to}`)).toEqual(["unstarted->canary", "canary->done"]);
  });
});

describe("the lease: only its holder runs the reconciler", () => {
  test("a replica without it writes nothing when reports or its timer ask; given the lease, it does", async () => {
    const store = await sharedStore();
    const { b } = await rolloutOn(store);
    const before = await stored(store);

    tick();
    await b.rollout.report(agent("p3", "prod"));
    await b.rollout.reconcile();
    expect((await stored(store)).generation).toBe(before.generation);
    expect(await b.rollout.prune()).toBe(0);

    b.lease.set(true);
    await b.rollout.reconcile();
    const after = await stored(store);
    expect(after.generation).toBe(before.generation + 1);
    expect(group(after.rollout, "prod")?.presentCount).toBe(3);
  });
});

describe("reports received by other replicas count in the lease holder's decisions", () => {
  test("reports to b move a's counts after a sync; a canary's failure reported to c rolls its group back", async () => {
    const store = await sharedStore();
    const { a, b } = await rolloutOn(store);
    const c = await node("c", store, false);
    tick();
    for (const id of ["c3", "c4"]) await b.rollout.report(agent(id, "canary"));
    for (const id of ["p3", "p4", "p5"]) await c.rollout.report(agent(id, "prod"));
    await a.rollout.syncAgents();
    expect((await viewGroup(a, "canary"))?.present_count).toBe(4);
    expect((await viewGroup(a, "prod"))?.present_count).toBe(5);

    await b.rollout.action("canary", "start"); // picks its canary from b's own counts
    await a.rollout.refresh(new Set(["rollout"]));
    const canary = group((await stored(store)).rollout, "canary")?.canaries[0]?.updaterId as string;
    expect(canary).toMatch(/^c[1-4]$/);
    tick();
    await c.rollout.report({ ...agent(canary, "canary", "16.4.0", "rolledback"), failed_version: "17.0.1" });
    await a.rollout.syncAgents(); // counts the failure, and asks for the reconcile it calls for
    await a.rollout.reconcile();
    expect(group((await stored(store)).rollout, "canary")?.state).toBe("rolledback");
  });

  test("an operator's action reconciles over the reports other replicas received, read first", async () => {
    const store = new SqliteStore(":memory:", { reportBatchMs: 1 });
    closers.push(() => store.close());
    const { a, b } = await rolloutOn(store);
    // Not a millisecond later (on b's clock): b read the reports just before, and reads them again.
    await a.rollout.report(agent("c9", "canary"));
    await b.rollout.action("canary", "start");
    const g = group((await stored(store)).rollout, "canary");
    expect(g?.state).toBe("canary"); // over b's own counts (none), the empty group was done at once
    expect(g?.canaries.map((x) => x.updaterId)).toEqual(["c9"]);
  });

  test("a report read back is not counted twice, and an older one does not replace a newer one", async () => {
    const store = await sharedStore();
    const { a, b } = await rolloutOn(store);
    tick();
    await b.rollout.report(agent("p3", "prod"));
    const older = agent("p1", "prod", "16.4.0", "rolledback");
    tick();
    await a.rollout.report(agent("p1", "prod", "17.0.1"));
    // An older report of p1 committed late by a slow replica: the store now holds it, a keeps the newer one.
    await store.upsertAgent(older);
    await a.rollout.syncAgents();
    await a.rollout.syncAgents();
    const prod = await viewGroup(a, "prod");
    expect(prod?.present_count).toBe(3);
    expect(prod?.up_to_date_count).toBe(1);
  });
});

describe("every replica follows the others' changes", () => {
  test("resources, server version, critical flags, tokens and the rollout: within a second", async () => {
    const store = await sharedStore();
    const a = await node("a", store, true);
    const b = await node("b", store, false);
    await replica(b, store);
    const findB = () => JSON.parse(b.rollout.findBody("prod", "p1")).auto_update.agent_version as string;
    expect(findB()).toBe("");

    await a.rollout.putConfig(CONFIG);
    await a.rollout.putVersion(VERSION);
    await until("b answers a's version", () => findB() === "16.4.0");
    expect(b.rollout.getConfig()).toEqual(a.rollout.getConfig());

    await a.rollout.setServerVersion("17.0.2");
    await until("b has a's server version", () => b.rollout.serverVersion() === "17.0.2");
    await a.rollout.setCritical("17.0.1", true);
    await until("b has a's critical flag", async () =>
      (await b.rollout.releases()).critical.includes("17.0.1"),
    );

    await a.rollout.action("prod", "force");
    await until("b answers the forced group", () => findB() === "17.0.1");

    expect(await b.tokens.kindOf("new-agent-token")).toBeUndefined();
    await store.addToken({
      id: "t",
      kind: "agent",
      hash: hashToken("new-agent-token"),
      name: "x",
      created: "",
    });
    await until("b takes a's token", async () => (await b.tokens.kindOf("new-agent-token")) === "agent");
  });

  test("a release manifest another replica published (shared artifacts dir): its versions and flags", async () => {
    const store = await sharedStore();
    const shared = sharedArtifacts(store);
    const a = await node("a", store, true, shared.read);
    let reads = 0;
    const b = await node("b", store, false, (name) => {
      reads++;
      return shared.read(name);
    });
    await replica(b, store);
    expect(b.rollout.publishedVersions()).toBeUndefined();
    await shared.publish(
      "hello-releases.json",
      manifestDoc(["16.4.0", "17.0.1"], 1, { critical: ["17.0.1"] }),
    );
    await a.rollout.artifactsChanged();
    expect(a.rollout.publishedVersions()).toEqual(["16.4.0", "17.0.1"]);
    await until("b reads the manifest", () => b.rollout.publishedVersions()?.join() === "16.4.0,17.0.1");
    expect((await b.rollout.releases()).critical).toEqual(["17.0.1"]);
    // Read once per publication, not at every periodic re-read (300 ms here).
    const after = reads;
    await Bun.sleep(700);
    expect(reads).toBe(after);
  });

  test("the updater: updater_version set on one replica, upkeep-releases.json published on another", async () => {
    const store = await sharedStore();
    const shared = sharedArtifacts(store);
    const a = await node("a", store, true, shared.read, "0.3.0");
    let reads = 0;
    const b = await node(
      "b",
      store,
      false,
      (name) => {
        if (name === "upkeep-releases.json") reads++;
        return shared.read(name);
      },
      "0.3.0",
    );
    await replica(b, store);
    const updaterB = () => JSON.parse(b.rollout.findBody("prod", "p1")).upkeep.updater_version as string;
    expect(updaterB()).toBe("");

    await shared.publish("upkeep-releases.json", selfManifestDoc(["0.2.0", "0.3.0"]));
    await a.rollout.artifactsChanged();
    expect(a.rollout.updater().version).toBe("0.3.0");
    await until("b reads upkeep-releases.json", () => updaterB() === "0.3.0", 5000); // the old code: never
    expect(b.rollout.publishedUpdaterVersions()).toEqual(["0.2.0", "0.3.0"]);
    const after = reads; // once per publication, not at every periodic re-read
    await Bun.sleep(700);
    expect(reads).toBe(after);

    await a.rollout.setUpdaterVersion("0.2.0");
    await until("b has a's pinned updater", () => updaterB() === "0.2.0", 5000); // the old code: never
    expect(b.rollout.updater().setting).toBe("0.2.0");
    await a.rollout.setUpdaterVersion("off");
    await until("b has the updaters turned off", () => b.rollout.updater().setting === "off", 5000);
    expect(updaterB()).toBe("");
  });

  test("a missed notification is caught up by the periodic re-read", async () => {
    // Two stores on one database file: what a writes through its own store is never told to b's.
    const file = join(mkdtempSync(join(tmpdir(), "upkeep-replica-")), "upkeep.db");
    const mine = new SqliteStore(file);
    closers.push(() => mine.close());
    const other = new SqliteStore(file);
    closers.push(() => other.close());
    const b = await node("b", mine, false);
    await replica(b, mine);
    const a = await node("a", other, true);
    await a.rollout.putConfig(CONFIG);
    await until(
      "b has a's config",
      () => JSON.stringify(b.rollout.getConfig()) === JSON.stringify(a.rollout.getConfig()),
      3000,
    );
  });

  test("the replica that takes the lease re-reads and reconciles at once", async () => {
    const store = await sharedStore();
    const { b } = await rolloutOn(store);
    await replica(b, store);
    tick();
    await b.rollout.report(agent("p3", "prod"));
    const gen = (await stored(store)).generation;
    b.lease.set(true); // a died before counting p1
    await until("b reconciled", async () => (await stored(store)).generation > gen);
    expect(group((await stored(store)).rollout, "prod")?.presentCount).toBe(3);
  });
});

/** The store with its database "away": every call refused as PostgreSQL's store refuses them. */
function flaky(inner: Store): { store: Store; down: (d: boolean) => void } {
  let down: { since: string } | undefined;
  const refused = () =>
    new StoreUnavailableError("postgres://db/upkeep", "the database postgres://db/upkeep cannot be reached");
  const store = new Proxy(inner, {
    get(target, p) {
      if (p === "health")
        return () =>
          down
            ? { ok: false, reason: "the database postgres://db/upkeep cannot be reached", since: down.since }
            : { ok: true };
      if (p === "assertWritable")
        return () => {
          if (down) throw refused();
        };
      const v = Reflect.get(target, p);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) =>
        down && p !== "subscribe" && p !== "close" ? Promise.reject(refused()) : v.apply(target, args);
    },
  });
  return {
    store,
    down: (d) => {
      down = d ? { since: new Date().toISOString() } : undefined;
    },
  };
}

describe("the database going away", () => {
  test("find answers what it did; writes refused; nothing logged per failed read; changes made meanwhile read when back", async () => {
    const inner = await sharedStore();
    const a = await node("a", inner, true);
    await a.rollout.putConfig(CONFIG);
    await a.rollout.putVersion(VERSION);
    await a.rollout.action("prod", "force");
    const f = flaky(inner);
    const b = await node("b", f.store, false);
    await replica(b, f.store);
    const before = b.rollout.findBody("prod", "p1");
    expect(JSON.parse(before).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });

    const logged = b.logs.length;
    f.down(true);
    await Bun.sleep(700); // many health looks, re-reads and syncs, all failing
    expect(b.rollout.findBody("prod", "p1")).toBe(before);
    expect(b.rollout.findBody("canary", "c1")).toBe(a.rollout.findBody("canary", "c1"));
    await expect(b.rollout.action("prod", "rollback")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(b.rollout.report(agent("p1", "prod"))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await viewGroup(b, "prod"))?.state).toBe("active"); // reads answer from what it holds
    expect(b.logs.slice(logged)).toEqual([]); // the store says it once (PgStore's onUnavailable)

    await a.rollout.action("prod", "rollback"); // on a replica that still reaches the database
    f.down(false);
    await until(
      "b follows the rollback",
      () => JSON.parse(b.rollout.findBody("prod", "p1")).auto_update.agent_version === "16.4.0",
    );
  });
});

describe("/healthz", () => {
  test("200 while the process answers, with the store's health and whether this server reconciles", async () => {
    const dir = mkdtempSync(join(tmpdir(), "upkeep-healthz-"));
    const h = await harness({ db: join(dir, "upkeep.db") });
    const health = async () => {
      const r = await h.app.request("/healthz");
      expect(r.status).toBe(200);
      return await r.json();
    };
    expect(await health()).toEqual({ status: "ok", reconciler: true, store: { ok: true } });
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    expect((await h.req("PUT", "/v1/server", { server_version: "18.0.0" })).status).toBe(503);
    const down = (await health()) as {
      status: string;
      store: { ok: boolean; reason: string; since: string };
    };
    expect(down.status).toBe("ok");
    expect(down.store.ok).toBe(false);
    expect(down.store.reason).toContain("upkeep.db was removed");
    expect(Date.parse(down.store.since)).not.toBeNaN();
    h.store.close();
  });
});
