// What only the PostgreSQL store does: migrations under an advisory lock when replicas start together, a
// newer schema refused, passwords masked, the database going away and coming back. A throwaway PostgreSQL
// (test/pg_harness.ts); skipped with a message without it, failing under CI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { UpkeepError } from "../core/errors.ts";
import { type Postgres, pgSkip, startPostgres } from "../test/pg_harness.ts";
import { PG_MIGRATIONS } from "./pg_migrations.ts";
import { ANY_CHANGE, maskUrl, PgStore } from "./pg_store.ts";
import { StoreUnavailableError } from "./store.ts";

test("maskUrl hides the password, keeps the rest", () => {
  expect(maskUrl("postgres://upkeep:s3cr%40t@db.example.com:5432/upkeep?sslmode=require")).toBe(
    "postgres://upkeep:***@db.example.com:5432/upkeep?sslmode=require",
  );
  expect(maskUrl("postgresql://upkeep@db:5432/upkeep")).toBe("postgresql://upkeep@db:5432/upkeep");
  expect(maskUrl("postgres://u:p@ss word@[bad")).not.toContain("ss word");
  expect(maskUrl("postgres://db/upkeep?user=u&password=pw")).toBe("postgres://db/upkeep?user=u&password=***");
});

const skip = pgSkip("server/pg_store.test.ts");

describe.skipIf(skip)("PostgreSQL store", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  const withUrl = (url: string, user: string, password: string) => {
    const u = new URL(url);
    u.username = user;
    u.password = password;
    return u.toString();
  };

  test("three stores opened at once on an empty database: all open, each migration applied once", async () => {
    const url = await pg.createDatabase();
    for (let round = 0; round < 3; round++) {
      const stores = await Promise.all([PgStore.open(url), PgStore.open(url), PgStore.open(url)]);
      await stores[0]?.putSetting("k", `v${round}`);
      expect(await stores[2]?.getSetting("k")).toBe(`v${round}`);
      await Promise.all(stores.map((s) => s.close()));
    }
    const sql = new SQL(url, { max: 1 });
    try {
      const rows = await sql`SELECT version FROM schema_migrations ORDER BY version`;
      expect([...rows].map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await sql.close();
    }
  });

  test("a database with a newer schema is refused, naming both versions; nothing is changed", async () => {
    const url = await pg.createDatabase();
    await (await PgStore.open(url)).close();
    const sql = new SQL(url, { max: 1 });
    try {
      await sql`INSERT INTO schema_migrations (version) VALUES (${PG_MIGRATIONS.length + 6})`;
      const err = await PgStore.open(withUrl(url, "postgres", "hunter2")).catch((e) => e);
      expect(err).toBeInstanceOf(UpkeepError);
      expect(err.code).toBe("E_INCOMPATIBLE");
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(`schema version ${PG_MIGRATIONS.length + 6}`);
      expect(err.message).toContain(`(version ${PG_MIGRATIONS.length})`);
      expect(err.message).toContain("postgres:***@127.0.0.1");
      expect(err.message).not.toContain("hunter2");
      const [n] = await sql`SELECT count(*)::integer AS n FROM schema_migrations`;
      expect(n.n).toBe(PG_MIGRATIONS.length + 1);
    } finally {
      await sql.close();
    }
  });

  test("a database that does not exist, or no server: a refusal naming the URL (password masked)", async () => {
    const missing = withUrl(pg.url.replace(/\/upkeep$/, "/nope"), "postgres", "hunter2");
    const e1 = await PgStore.open(missing).catch((e) => e);
    expect(e1).toBeInstanceOf(UpkeepError);
    expect(e1.exitCode).toBe(2);
    expect(e1.message).toContain("postgres:***@127.0.0.1");
    expect(e1.message).toContain("nope");
    expect(`${e1.message}${e1.hint}`).not.toContain("hunter2");
    // A port nobody listens on (this server's port with the server stopped).
    const other = await startPostgres();
    const url = other.url;
    await other.stop();
    const e2 = await PgStore.open(url, { connectTimeoutSeconds: 2 }).catch((e) => e);
    expect(e2).toBeInstanceOf(UpkeepError);
    expect(e2.exitCode).toBe(1); // may pass: not the operator's typo
    expect(e2.message).toContain(url.replace("postgres://", ""));
    expect(e2.hint).toContain("pg_isready");
  }, 60_000);

  test("the database going away: writes refused with a 503 error, health says why; back once it answers", async () => {
    const url = await pg.createDatabase();
    const told: string[] = [];
    const s = await PgStore.open(url, {
      onUnavailable: (e) => told.push(`down: ${e.message}`),
      onAvailable: () => told.push("up"),
    });
    const changes: string[] = [];
    await s.subscribe((w) => changes.push(w));
    try {
      await s.putSetting("k", "before");
      await s.upsertAgent({
        updater_id: "a",
        hostname: "h",
        group: "g",
        version: "1.0.0",
        state: "ok",
        last_seen: "2026-11-23T08:30:00.000Z",
      });
      await pg.stopServer();

      const e = await s.putSetting("k", "during").catch((x) => x);
      expect(e).toBeInstanceOf(StoreUnavailableError);
      expect(e.message).toContain("cannot be reached");
      expect(e.file).toBe(url);
      const h = s.health();
      expect(h.ok).toBe(false);
      expect(h.reason).toContain("cannot be reached");
      expect(Number.isNaN(Date.parse(h.since as string))).toBe(false);
      // Now refused at once, reports too; reads fail the same way (no answer from a database that is gone).
      expect(() => s.assertWritable()).toThrow(StoreUnavailableError);
      expect(
        await s
          .upsertAgent({
            updater_id: "b",
            hostname: "h",
            group: "g",
            version: "1",
            state: "ok",
            last_seen: "x",
          })
          .catch((x) => x),
      ).toBeInstanceOf(StoreUnavailableError);
      expect(await s.getSetting("k").catch((x) => x)).toBeInstanceOf(StoreUnavailableError);
      expect(told).toHaveLength(1); // told once, not at every refused write
      expect(told[0]).toContain("down: the database");

      await pg.startServer();
      const deadline = Date.now() + 20_000;
      while (!s.health().ok && Date.now() < deadline) await Bun.sleep(50);
      expect(s.health()).toEqual({ ok: true });
      expect(told).toEqual([told[0] as string, "up"]);
      await s.putSetting("k", "after");
      expect(await s.getSetting("k")).toBe("after");
      expect((await s.listAgents()).map((a) => a.updater_id)).toEqual(["a"]);
      // The listening connection came back too: told that anything may have changed, then notified again.
      const until = Date.now() + 20_000;
      while (!changes.includes(ANY_CHANGE) && Date.now() < until) await Bun.sleep(50);
      expect(changes).toContain(ANY_CHANGE);
      const n = changes.length;
      await s.putSetting("k", "again");
      while (changes.length === n && Date.now() < until) await Bun.sleep(20);
      expect(changes.at(-1)).toBe("setting:k");
    } finally {
      await pg.startServer();
      await s.close();
    }
  }, 60_000);
});
