/**
 * The PostgreSQL store, for several `serve` replicas on one database: the same `Store` semantics as the
 * SQLite store (sqlite_store.ts), through Bun's built-in client (`Bun.SQL`: a pool, transactions, LISTEN).
 *
 * - Schema: numbered migrations applied once under an advisory lock (pg_migrations.ts), at `open`
 *   (pg_connect.ts, which also says which errors mean the database cannot be reached).
 * - Every write of a resource, setting, rollout, token or artifact notifies channel `upkeep_changes` in its
 *   own transaction (delivered at commit) with what changed; `subscribe` listens there, so every replica
 *   hears every replica's writes. After the listening connection came back from a drop, listeners are told
 *   "*" (anything may have changed meanwhile: re-read).
 * - The database going away: an operation that cannot reach it fails with StoreUnavailableError (routes
 *   answer 503), `health()` turns false and says why and since when, and a probe retries with backoff
 *   (0.25 s doubling up to 5 s) until the database answers again. Meanwhile writes are refused at once.
 */
import type { SQL } from "bun";
import type { ResourceKind } from "../core/wire/mod.ts";
import { PgAgentTable } from "./pg_agents.ts";
import { connect, isUnreachable, unreachableError } from "./pg_connect.ts";
import { PgSessionTable } from "./pg_sessions.ts";
import {
  type AgentPage,
  type AgentQuery,
  type AgentRecord,
  type ReleaseArtifact,
  type RolloutEvent,
  type RolloutState,
  type SessionRecord,
  type Store,
  type StoreChange,
  type StoreHealth,
  StoreUnavailableError,
  type TokenKind,
  type TokenRecord,
} from "./store.ts";

export { isUnreachable, maskUrl } from "./pg_connect.ts";

/** The channel every write notifies, and `subscribe` listens on. */
export const CHANGES_CHANNEL = "upkeep_changes";

/** Told to listeners when notifications may have been missed (the listening connection dropped). */
export const ANY_CHANGE: StoreChange = "*";

export interface PgStoreOptions {
  /** How long a batch of reports stays open before its one transaction (ms). Default 5. */
  reportBatchMs?: number;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** Seconds to wait for a connection before calling the database unreachable. Default 5. */
  connectTimeoutSeconds?: number;
  /** Told when the database is first seen unreachable (then not again until it answered). */
  onUnavailable?: (e: StoreUnavailableError) => void;
  /** Told when the database answers again after being unreachable. */
  onAvailable?: () => void;
}

export class PgStore implements Store {
  readonly #sql: SQL;
  /** The URL with its password masked: what messages and logs name. */
  readonly where: string;
  readonly #o: PgStoreOptions;
  readonly #agents: PgAgentTable;
  readonly #sessions: PgSessionTable;
  #down: { reason: string; since: string; error: StoreUnavailableError } | undefined;
  #probing = false;
  #closed = false;
  readonly #subs = new Set<{ unlisten(): Promise<void> }>();

  private constructor(sql: SQL, where: string, o: PgStoreOptions) {
    this.#sql = sql;
    this.where = where;
    this.#o = o;
    this.#agents = new PgAgentTable({
      run: (fn, write) => this.#run(fn, write),
      ...(o.reportBatchMs !== undefined ? { batchMs: o.reportBatchMs } : {}),
    });
    this.#sessions = new PgSessionTable((fn, write) => this.#run(fn, write));
  }

  /**
   * Connects, brings the schema up to date (once, whatever replicas start together) and answers the store.
   * A database that cannot be reached or used is a refusal naming it (password masked) and why.
   */
  static async open(url: string, o: PgStoreOptions = {}): Promise<PgStore> {
    const { sql, where } = await connect(url, o);
    return new PgStore(sql, where, o);
  }

  /** Runs one database operation: refused at once while the database is known unreachable (writes). */
  async #run<T>(fn: (sql: SQL) => Promise<T>, write: boolean): Promise<T> {
    if (write) this.assertWritable();
    try {
      const r = await fn(this.#sql);
      if (this.#down) this.#up();
      return r;
    } catch (e) {
      throw this.#failed(e);
    }
  }

  /** An operation failed: when the database is unreachable, marks it down and answers a 503 error. */
  #failed(e: unknown): unknown {
    if (!isUnreachable(e) || this.#closed) return e;
    const error = unreachableError(this.where, e);
    if (!this.#down) {
      this.#down = { reason: error.message, since: new Date().toISOString(), error };
      this.#o.onUnavailable?.(error);
      void this.#probe();
    }
    return error;
  }

  #up(): void {
    this.#down = undefined;
    this.#o.onAvailable?.();
  }

  /** While down: asks the database with backoff (0.25 s doubling to 5 s) until it answers. */
  async #probe(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      for (let wait = 250; this.#down && !this.#closed; wait = Math.min(wait * 2, 5000)) {
        await Bun.sleep(wait);
        if (!this.#down || this.#closed) break;
        try {
          await this.#sql`SELECT 1`;
          if (this.#down) this.#up();
        } catch {
          // still down
        }
      }
    } finally {
      this.#probing = false;
    }
  }

  assertWritable(): void {
    if (this.#closed)
      throw new StoreUnavailableError(this.where, `the store ${this.where} is closed (serve is stopping)`);
    if (this.#down) throw this.#down.error;
  }

  health(): StoreHealth {
    return this.#down ? { ok: false, reason: this.#down.reason, since: this.#down.since } : { ok: true };
  }

  async subscribe(onChange: (what: StoreChange) => void): Promise<() => Promise<void>> {
    let listened = 0;
    const sub = await this.#run(
      (sql) =>
        sql.listen(
          CHANGES_CHANNEL,
          (payload) => onChange(payload),
          () => {
            // After a reconnect: what was notified while the connection was down is lost.
            if (listened++ > 0) onChange(ANY_CHANGE);
          },
        ),
      false,
    );
    this.#subs.add(sub);
    return async () => {
      this.#subs.delete(sub);
      await sub.unlisten();
    };
  }

  /** A write and its notification, in one transaction. */
  async #writeTx<T>(what: StoreChange | undefined, fn: (tx: SQL) => Promise<T>): Promise<T> {
    return await this.#run(
      (sql) =>
        sql.begin(async (tx) => {
          const r = await fn(tx);
          if (what !== undefined) await tx`SELECT pg_notify(${CHANGES_CHANNEL}, ${what})`;
          return r;
        }) as Promise<T>,
      true,
    );
  }

  async getResource(kind: ResourceKind): Promise<unknown | undefined> {
    const [row] = await this.#run((sql) => sql`SELECT value FROM resources WHERE kind = ${kind}`, false);
    return row ? JSON.parse(row.value) : undefined;
  }

  async putResource(kind: ResourceKind, value: unknown): Promise<void> {
    await this.#writeTx(`resource:${kind}`, async (tx) => {
      await tx`INSERT INTO resources (kind, value, updated) VALUES (${kind}, ${JSON.stringify(value)}, ${new Date().toISOString()})
               ON CONFLICT (kind) DO UPDATE SET value = excluded.value, updated = excluded.updated`;
    });
  }

  async getSetting(key: string): Promise<string | undefined> {
    const [row] = await this.#run((sql) => sql`SELECT value FROM settings WHERE key = ${key}`, false);
    return row?.value;
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.#writeTx(`setting:${key}`, async (tx) => {
      await tx`INSERT INTO settings (key, value) VALUES (${key}, ${value})
               ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    });
  }

  async getRollout(): Promise<unknown | undefined> {
    return (await this.getRolloutState())?.value;
  }

  async getRolloutState(): Promise<RolloutState | undefined> {
    const [row] = await this.#run((sql) => sql`SELECT value, generation FROM rollout WHERE id = 1`, false);
    if (!row) return undefined;
    return { value: JSON.parse(row.value) ?? undefined, generation: Number(row.generation) };
  }

  async putRollout(value: unknown): Promise<void> {
    await this.#writeTx("rollout", async (tx) => {
      await tx`INSERT INTO rollout (id, value, generation) VALUES (1, ${JSON.stringify(value)}, 1)
               ON CONFLICT (id) DO UPDATE SET value = excluded.value, generation = rollout.generation + 1`;
    });
  }

  async casRollout(expectedGeneration: number, value: unknown, events: RolloutEvent[]): Promise<boolean> {
    const json = JSON.stringify(value);
    return await this.#writeTx(undefined, async (tx) => {
      // READ COMMITTED: a concurrent writer's UPDATE blocks this one, which then re-checks the generation
      // on the row as committed (and finds it moved); a concurrent first INSERT makes this one do nothing.
      const r =
        expectedGeneration === 0
          ? await tx`INSERT INTO rollout (id, value, generation) VALUES (1, ${json}, 1) ON CONFLICT (id) DO NOTHING`
          : await tx`UPDATE rollout SET value = ${json}, generation = generation + 1
                     WHERE id = 1 AND generation = ${expectedGeneration}`;
      if (Number(r.count ?? 0) !== 1) return false;
      await this.#insertEvents(tx, events);
      await tx`SELECT pg_notify(${CHANGES_CHANNEL}, ${"rollout"})`;
      return true;
    });
  }

  async #insertEvents(tx: SQL, events: RolloutEvent[]): Promise<void> {
    if (events.length === 0) return;
    // In the array's order (seq follows it).
    await tx.unsafe(
      `INSERT INTO events ("time", grp, from_state, to_state, reason)
       SELECT e->>'time', e->>'group', e->>'from', e->>'to', e->>'reason'
         FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n`,
      [JSON.stringify(events)],
    );
  }

  async appendEvents(events: RolloutEvent[]): Promise<void> {
    await this.#writeTx(events.length > 0 ? "rollout" : undefined, (tx) => this.#insertEvents(tx, events));
  }

  async listEvents(limit: number): Promise<RolloutEvent[]> {
    const rows = await this.#run(
      (sql) =>
        sql`SELECT "time", grp AS "group", from_state AS "from", to_state AS "to", reason
            FROM events ORDER BY seq DESC LIMIT ${limit}`,
      false,
    );
    return ([...rows] as RolloutEvent[]).reverse().map((r) => ({
      time: r.time,
      group: r.group,
      from: r.from,
      to: r.to,
      reason: r.reason,
    }));
  }

  upsertAgent(a: AgentRecord): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#agents.upsert(a);
  }

  #closedError(): StoreUnavailableError {
    return new StoreUnavailableError(this.where, `the store ${this.where} is closed (serve is stopping)`);
  }

  listAgents(o: { seenSince?: string } = {}): Promise<AgentRecord[]> {
    return this.#agents.list(o);
  }

  queryAgents(q: AgentQuery): Promise<AgentPage> {
    return this.#agents.page(q);
  }

  pruneAgents(before: string, limit: number): Promise<number> {
    return this.#agents.prune(before, limit);
  }

  /** Report batches committed since open, and the reports in them. */
  reportBatches(): { batches: number; reports: number } {
    return { ...this.#agents.stats };
  }

  async addToken(t: TokenRecord): Promise<void> {
    await this.#writeTx("tokens", async (tx) => {
      await tx`INSERT INTO tokens (id, kind, hash, name, created)
               VALUES (${t.id}, ${t.kind}, ${t.hash}, ${t.name}, ${t.created}) ON CONFLICT DO NOTHING`;
    });
  }

  async listTokens(kind: TokenKind): Promise<TokenRecord[]> {
    const rows = await this.#run(
      (sql) =>
        sql`SELECT id, kind, hash, name, created FROM tokens WHERE kind = ${kind} ORDER BY created, id`,
      false,
    );
    return [...rows].map((r) => ({ id: r.id, kind: r.kind, hash: r.hash, name: r.name, created: r.created }));
  }

  async removeTokens(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return await this.#writeTx(undefined, async (tx) => {
      const r = await tx.unsafe(
        "DELETE FROM tokens WHERE id IN (SELECT jsonb_array_elements_text($1::text::jsonb))",
        [JSON.stringify(ids)],
      );
      const n = Number(r.count ?? 0);
      if (n > 0) await tx`SELECT pg_notify(${CHANGES_CHANNEL}, ${"tokens"})`;
      return n;
    });
  }

  addSession(session: SessionRecord): Promise<void> {
    return this.#sessions.add(session);
  }

  getSession(idHash: string, now: string): Promise<SessionRecord | undefined> {
    return this.#sessions.get(idHash, now);
  }

  touchSession(idHash: string, lastUsed: string, expires: string): Promise<void> {
    return this.#sessions.touch(idHash, lastUsed, expires);
  }

  setSessionFlash(idHash: string, flash: SessionRecord["flash"]): Promise<void> {
    return this.#sessions.setFlash(idHash, flash);
  }

  endSession(idHash: string): Promise<boolean> {
    return this.#sessions.end(idHash);
  }

  pruneSessions(now: string, keep: number): Promise<number> {
    return this.#sessions.prune(now, keep);
  }

  async putArtifact(a: ReleaseArtifact): Promise<void> {
    await this.#writeTx("artifacts", async (tx) => {
      await tx`INSERT INTO artifacts (name, size, sha256, uploaded) VALUES (${a.name}, ${a.size}, ${a.sha256}, ${a.uploaded})
               ON CONFLICT (name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, uploaded = excluded.uploaded`;
    });
  }

  async listArtifacts(): Promise<ReleaseArtifact[]> {
    const rows = await this.#run(
      (sql) => sql`SELECT name, size, sha256, uploaded FROM artifacts ORDER BY name`,
      false,
    );
    return [...rows].map(artifactOf);
  }

  async getArtifact(name: string): Promise<ReleaseArtifact | undefined> {
    const [row] = await this.#run(
      (sql) => sql`SELECT name, size, sha256, uploaded FROM artifacts WHERE name = ${name}`,
      false,
    );
    return row ? artifactOf(row) : undefined;
  }

  /** Commits the pending reports, stops listening and closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#agents.flush();
    } catch {
      // the reports' own promises carry the error
    }
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.unlisten().catch(() => {})));
    this.#subs.clear();
    await this.#sql.close({ timeout: 5 }).catch(() => {});
  }
}

function artifactOf(r: { name: string; size: unknown; sha256: string; uploaded: string }): ReleaseArtifact {
  return { name: r.name, size: Number(r.size), sha256: r.sha256, uploaded: r.uploaded };
}
