// The agents table: reports committed in batches (one transaction for many), each acknowledged only once its
// batch is in the database file; a batch the store refuses acknowledges none of its reports.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "./sqlite_store.ts";
import { type AgentRecord, StoreUnavailableError } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-agents-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string, seen = "2026-11-23T08:30:00.000Z"): AgentRecord => ({
  updater_id: id,
  hostname: `${id}.local`,
  group: "prod",
  version: "16.4.0",
  state: "ok",
  last_seen: seen,
});

/** What another connection to the file (another process after a crash) reads. */
function onDisk(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("SELECT count(*) AS n FROM agents").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test("300 reports at once: one transaction; each acknowledged only once it is in the file", async () => {
  const path = join(dir, "batch.db");
  const s = new SqliteStore(path);
  const acked: string[] = [];
  const writes = Array.from({ length: 300 }, (_, i) =>
    s.upsertAgent(record(`u${i}`)).then(() => acked.push(`u${i}`)),
  );
  // Not yet committed: not acknowledged, and not in the file.
  expect(acked).toEqual([]);
  expect(onDisk(path)).toBe(0);
  await Promise.all(writes);
  expect(acked).toHaveLength(300);
  expect(onDisk(path)).toBe(300);
  expect(s.reportBatches()).toEqual({ batches: 1, reports: 300 });
  // The same agent twice in one batch: its later report is the one kept.
  await Promise.all([
    s.upsertAgent(record("u1", "2026-11-23T08:31:00.000Z")),
    s.upsertAgent(record("u1", "2026-11-23T08:32:00.000Z")),
  ]);
  expect((await s.listAgents({ seenSince: "2026-11-23T08:31:00.000Z" })).map((a) => a.last_seen)).toEqual([
    "2026-11-23T08:32:00.000Z",
  ]);
  s.close();
});

test("close writes the open batch", async () => {
  const path = join(dir, "close.db");
  const s = new SqliteStore(path);
  const pending = s.upsertAgent(record("u1"));
  s.close();
  await pending;
  expect(onDisk(path)).toBe(1);
});

test("a batch the store refuses (database removed): every report in it is refused, none acknowledged", async () => {
  const sub = mkdtempSync(join(dir, "gone-"));
  const s = new SqliteStore(join(sub, "upkeep.db"));
  await s.upsertAgent(record("before"));
  const writes = [s.upsertAgent(record("a")), s.upsertAgent(record("b"))];
  for (const f of readdirSync(sub)) rmSync(join(sub, f));
  const results = await Promise.allSettled(writes);
  for (const r of results) {
    expect(r.status).toBe("rejected");
    expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
  }
  expect(s.reportBatches().reports).toBe(1);
  s.close();
});

test("pages by updater id with a total; prune deletes only agents last seen before the cutoff, in batches", async () => {
  const s = new SqliteStore(":memory:");
  await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      s.upsertAgent(
        record(`u${String(i).padStart(2, "0")}`, `2026-11-${String(1 + i).padStart(2, "0")}T00:00:00.000Z`),
      ),
    ),
  );
  const p1 = await s.queryAgents({ limit: 10 });
  expect(p1.total).toBe(25);
  expect(p1.more).toBe(true);
  const p3 = await s.queryAgents({ limit: 10, after: "u19" });
  expect(p3.agents.map((a) => a.updater_id)).toEqual(["u20", "u21", "u22", "u23", "u24"]);
  expect(p3.more).toBe(false);
  // Seen before Nov 11: u00..u09.
  expect(await s.pruneAgents("2026-11-11T00:00:00.000Z", 4)).toBe(4);
  expect(await s.pruneAgents("2026-11-11T00:00:00.000Z", 100)).toBe(6);
  expect((await s.queryAgents({ limit: 100 })).agents[0]?.updater_id).toBe("u10");
  s.close();
});

test("a report that repeats the last one moves only last_seen; any other change is stored whole", async () => {
  const s = new SqliteStore(":memory:");
  const steps: AgentRecord[] = [
    record("u1", "2026-11-23T08:00:00.000Z"),
    record("u1", "2026-11-23T08:05:00.000Z"),
    {
      ...record("u1", "2026-11-23T08:10:00.000Z"),
      state: "rolledback",
      error: "unhealthy",
      failed_version: "17.0.1",
    },
    {
      ...record("u1", "2026-11-23T08:15:00.000Z"),
      state: "rolledback",
      error: "unhealthy",
      failed_version: "17.0.1",
    },
    { ...record("u1", "2026-11-23T08:20:00.000Z"), state: "rolledback", failed_version: "17.0.1" },
    { ...record("u1", "2026-11-23T08:25:00.000Z"), hostname: "renamed" },
    record("u1", "2026-11-23T08:30:00.000Z"),
  ];
  for (const step of steps) {
    await s.upsertAgent(step);
    expect(await s.listAgents()).toEqual([step]);
  }
  s.close();
});

test("host name prefix: ASCII letters in any case, % and _ literal, answered from the NOCASE index", async () => {
  const path = join(dir, "hostnames.db");
  const s = new SqliteStore(path);
  const names = ["WEB-1", "web-2", "Web_3", "webx3", "web%4", "db-1", "w\\eb"];
  await Promise.all(names.map((hostname, i) => s.upsertAgent({ ...record(`u${i}`), hostname })));
  const hosts = async (hostnamePrefix: string) =>
    (await s.queryAgents({ limit: 100, hostnamePrefix })).agents.map((a) => a.hostname);
  expect(await hosts("web-")).toEqual(["WEB-1", "web-2"]);
  expect(await hosts("WEB")).toEqual(["WEB-1", "web-2", "Web_3", "webx3", "web%4"]);
  expect(await hosts("web_")).toEqual(["Web_3"]);
  expect(await hosts("web%")).toEqual(["web%4"]);
  expect(await hosts("w\\")).toEqual(["w\\eb"]);
  expect(await hosts("")).toHaveLength(names.length);
  s.close();
  const db = new Database(path, { readonly: true });
  try {
    const plan = db
      .query("EXPLAIN QUERY PLAN SELECT count(*) FROM agents WHERE hostname LIKE ? ESCAPE '\\'")
      .all("web-%") as { detail: string }[];
    expect(plan.map((p) => p.detail).join("; ")).toContain("INDEX agents_by_hostname_nocase");
  } finally {
    db.close();
  }
});

test("updaterIds: a by-id lookup of a few agents, with the other filters", async () => {
  const s = new SqliteStore(":memory:");
  await Promise.all(["u1", "u2", "u3"].map((id) => s.upsertAgent(record(id))));
  const ids = async (q: { updaterIds: string[]; state?: string }) =>
    (await s.queryAgents({ limit: 10, ...q })).agents.map((a) => a.updater_id);
  expect(await ids({ updaterIds: ["u3", "u1", "nobody"] })).toEqual(["u1", "u3"]);
  expect(await ids({ updaterIds: [] })).toEqual([]);
  expect(await ids({ updaterIds: ["u1"], state: "failed" })).toEqual([]);
  s.close();
});
