/**
 * The reconciler lease on a real, throwaway PostgreSQL (test/pg_harness.ts): one holder at a time; its
 * session killed, closed or the database stopped, another replica takes the lease at its next try.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { type Postgres, pgSkip, startPostgres } from "../test/pg_harness.ts";
import { PgLease } from "./pg_lease.ts";

const skip = pgSkip("server/pg_lease.test.ts");
let pg: Postgres;
const leases: PgLease[] = [];
beforeAll(async () => {
  if (!skip) pg = await startPostgres();
});
afterAll(async () => {
  for (const l of leases) await l.close();
  await pg?.stop();
});

async function lease(name: string, lines: string[]): Promise<PgLease> {
  const l = await PgLease.start({
    url: pg.url,
    everyMs: 100,
    timeoutMs: 2000,
    log: (m) => lines.push(`${name}: ${m}`),
  });
  leases.push(l);
  return l;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(20);
  }
}

/** The backend PIDs holding the lease's advisory lock. */
async function holders(): Promise<number[]> {
  const sql = new SQL(pg.url, { max: 1 });
  try {
    const rows = (await sql`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`) as {
      pid: number;
    }[];
    return rows.map((r) => r.pid);
  } finally {
    await sql.close();
  }
}

describe.skipIf(skip)("PgLease", () => {
  test("one holder at a time; its session killed, it notices; closed (a process gone), the other takes over", async () => {
    const lines: string[] = [];
    const a = await lease("a", lines);
    const b = await lease("b", lines);
    expect(a.held()).toBe(true);
    expect(b.held()).toBe(false);
    const first = await holders();
    expect(first).toHaveLength(1);
    const changes: boolean[] = [];
    a.onChange((h) => changes.push(h));

    // Its session killed under it: it lets go at once (whoever tries first then takes it: one holder).
    const sql = new SQL(pg.url, { max: 1 });
    await sql`SELECT pg_terminate_backend(${first[0] as number}::int)`;
    await sql.close();
    await until("a notices", () => changes.length > 0);
    expect(changes[0]).toBe(false);
    await until("a replica holds it again", () => a.held() || b.held());
    await Bun.sleep(500);
    expect([a.held(), b.held()].filter(Boolean)).toHaveLength(1);
    expect(await holders()).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("a: reconciler lease lost"))).toHaveLength(1);

    // The holder goes away (its session closes, as at kill -9): the other takes it at its next try.
    const [holder, other] = a.held() ? [a, b] : [b, a];
    await holder.close();
    await until("the other takes it", () => other.held(), 3000);
    await Bun.sleep(300);
    expect(holder.held()).toBe(false);
    expect(await holders()).toHaveLength(1);
    await other.close();
    expect(await holders()).toHaveLength(0);
  }, 30_000);

  test("the database stopped: the holder lets go at once; started again: one replica holds it", async () => {
    const lines: string[] = [];
    const a = await lease("a", lines);
    const b = await lease("b", lines);
    expect(a.held()).toBe(true);
    await pg.stopServer();
    await until("a lets go", () => !a.held(), 3000);
    expect(b.held()).toBe(false);
    await Bun.sleep(300); // tries that fail while it is down: nothing taken, nothing logged each time
    expect(a.held() || b.held()).toBe(false);
    await pg.startServer();
    await until("a replica holds it again", () => a.held() || b.held());
    await Bun.sleep(300);
    expect([a.held(), b.held()].filter(Boolean)).toHaveLength(1);
    expect(lines.filter((l) => l.includes("lease lost"))).toHaveLength(1);
    await a.close();
    await b.close();
  }, 30_000);
});
