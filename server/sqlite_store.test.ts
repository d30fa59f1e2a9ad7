import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "./sqlite_store.ts";
import { StoreUnavailableError } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("an agent's failed version survives a restart; a cleared rollout reads back as none", async () => {
  const path = join(dir, "a.db");
  const s1 = new SqliteStore(path);
  await s1.upsertAgent({
    updater_id: "u1",
    hostname: "h1",
    group: "prod",
    version: "16.4.0",
    state: "rolledback",
    error: "health check failed",
    failed_version: "17.0.1",
    last_seen: "2026-11-23T08:30:00.000Z",
  });
  await s1.putRollout(null);
  s1.close();
  const s2 = new SqliteStore(path);
  expect(await s2.listAgents()).toEqual([
    {
      updater_id: "u1",
      hostname: "h1",
      group: "prod",
      version: "16.4.0",
      state: "rolledback",
      error: "health check failed",
      failed_version: "17.0.1",
      last_seen: "2026-11-23T08:30:00.000Z",
    },
  ]);
  expect(await s2.getRollout()).toBeUndefined();
  s2.close();
});

test("a data dir from the first schema is migrated in place, its rows kept", async () => {
  const path = join(dir, "old.db");
  const db = new Database(path, { create: true });
  db.run(`CREATE TABLE agents (updater_id TEXT PRIMARY KEY, hostname TEXT NOT NULL, grp TEXT NOT NULL,
          version TEXT NOT NULL, state TEXT NOT NULL, error TEXT, last_seen TEXT NOT NULL)`);
  for (const t of [
    "resources (kind TEXT PRIMARY KEY, value TEXT NOT NULL, updated TEXT NOT NULL)",
    "rollout (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL)",
  ])
    db.run(`CREATE TABLE ${t}`);
  db.run("INSERT INTO agents VALUES ('u1', 'h1', 'prod', '16.4.0', 'ok', NULL, '2026-11-23T08:30:00.000Z')");
  db.run(`INSERT INTO rollout VALUES (1, '{"groups":[]}')`);
  db.run("PRAGMA user_version = 1");
  db.close();
  const s = new SqliteStore(path);
  expect(await s.listAgents()).toEqual([
    {
      updater_id: "u1",
      hostname: "h1",
      group: "prod",
      version: "16.4.0",
      state: "ok",
      last_seen: "2026-11-23T08:30:00.000Z",
    },
  ]);
  // Migration 4: a rollout written before generations existed is generation 1 (0 means none).
  expect(await s.getRolloutState()).toEqual({ value: { groups: [] }, generation: 1 });
  s.close();
});

test("a database removed under the open store: every write is refused (told once), reads still answer", async () => {
  const sub = mkdtempSync(join(dir, "gone-"));
  const told: string[] = [];
  const s = new SqliteStore(join(sub, "upkeep.db"), { onUnavailable: (e) => told.push(e.message) });
  await s.putSetting("k", "before");
  for (const f of readdirSync(sub)) rmSync(join(sub, f));
  const writes: [string, () => Promise<unknown>][] = [
    ["putSetting", () => s.putSetting("k", "after")],
    ["putRollout", () => s.putRollout(null)],
    ["appendEvents", () => s.appendEvents([{ time: "t", group: "g", from: "a", to: "b", reason: "r" }])],
    ["removeTokens", () => s.removeTokens(["x"])],
  ];
  for (const [name, write] of writes) {
    const e = await write().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(`${name}: ${e instanceof StoreUnavailableError}`).toBe(`${name}: true`);
    expect((e as Error).message).toContain(`${join(sub, "upkeep.db")} was removed`);
  }
  expect(told.length).toBe(1);
  expect(await s.getSetting("k")).toBe("before");
  s.close();
});

test("an in-memory store is never refused", async () => {
  const s = new SqliteStore(":memory:");
  s.assertWritable();
  await s.putSetting("k", "v");
  expect(await s.getSetting("k")).toBe("v");
  s.close();
});
