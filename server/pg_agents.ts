/**
 * The `agents` table of the PostgreSQL store, with the SQLite store's semantics (sqlite_agents.ts): reports
 * group-committed in short batches (one statement, one transaction per batch; each report's promise resolves
 * once its batch committed), pages of agents filtered and counted by SQL in updater id order (byte order:
 * the columns are COLLATE "C"), pruning of agents long gone.
 *
 * Batches are written one at a time, in order: a later report of an agent never commits before an earlier
 * one. A batch's rows are written in updater id order, so replicas writing overlapping batches take row
 * locks in the same order (no deadlock).
 */
import type { SQL } from "bun";
import type { AgentPage, AgentQuery, AgentRecord } from "./store.ts";
import { type AgentRow, agentOfRow, likePrefix } from "./store_rows.ts";

const COLUMNS = `updater_id, hostname, grp AS "group", version, state, error, last_seen, failed_version,
  updater_version, updater_failed_version`;

/** The WHERE terms of a query's filters (not its cursor), numbered from $1, and their parameters. */
function where(q: AgentQuery): { terms: string[]; params: string[] } {
  const terms: string[] = [];
  const params: string[] = [];
  const p = (v: string): string => {
    params.push(v);
    return `$${params.length}`;
  };
  if (q.group && "is" in q.group) terms.push(`grp = ${p(q.group.is)}`);
  else if (q.group && q.group.notIn.length > 0)
    terms.push(`grp NOT IN (${q.group.notIn.map((g) => p(g)).join(", ")})`);
  if (q.version !== undefined) terms.push(`version = ${p(q.version)}`);
  if (q.state !== undefined) terms.push(`state = ${p(q.state)}`);
  // ASCII letters in any case, as SQLite's NOCASE: lower() under the column's "C" collation folds ASCII only.
  if (q.hostnamePrefix !== undefined)
    terms.push(`lower(hostname) LIKE lower(${p(likePrefix(q.hostnamePrefix))})`);
  if (q.updaterIds !== undefined) terms.push(`updater_id IN (${q.updaterIds.map((id) => p(id)).join(", ")})`);
  if (q.seenSince !== undefined) terms.push(`last_seen >= ${p(q.seenSince)}`);
  if (q.seenBefore !== undefined) terms.push(`last_seen < ${p(q.seenBefore)}`);
  return { terms, params };
}

const whereSql = (terms: string[]): string => (terms.length === 0 ? "" : ` WHERE ${terms.join(" AND ")}`);

export interface PgAgentTableOptions {
  /** Runs a database operation: the store's checks (reachable), and its errors as a 503 when it is not. */
  run: <T>(fn: (sql: SQL) => Promise<T>, write: boolean) => Promise<T>;
  /** How long a batch stays open after its first report (ms). Default 5. */
  batchMs?: number;
  /** A batch this full is written at once. Default 1000. */
  maxBatch?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One statement upserting a batch given as a JSON array of rows. */
const UPSERT = `INSERT INTO agents (updater_id, hostname, grp, version, state, error, last_seen, failed_version,
                                   updater_version, updater_failed_version)
  SELECT updater_id, hostname, grp, version, state, error, last_seen, failed_version, updater_version,
         updater_failed_version
    FROM jsonb_to_recordset($1::text::jsonb) AS r(updater_id text, hostname text, grp text, version text, state text,
                                             error text, last_seen text, failed_version text,
                                             updater_version text, updater_failed_version text)
    ORDER BY updater_id COLLATE "C"
  ON CONFLICT (updater_id) DO UPDATE SET hostname = excluded.hostname, grp = excluded.grp,
    version = excluded.version, state = excluded.state, error = excluded.error,
    last_seen = excluded.last_seen, failed_version = excluded.failed_version,
    updater_version = excluded.updater_version, updater_failed_version = excluded.updater_failed_version`;

export class PgAgentTable {
  readonly #o: Required<PgAgentTableOptions>;
  #pending = new Map<string, AgentRecord>();
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The batch being written, if any: the next one waits for it. */
  #writing: Promise<void> | undefined;
  /** Batches committed and reports in them, since open (for /metrics). */
  readonly stats = { batches: 0, reports: 0 };

  constructor(o: PgAgentTableOptions) {
    this.#o = { batchMs: 5, maxBatch: 1000, ...o };
  }

  /** Resolves once the report is committed (rejects when its batch could not be written). */
  upsert(a: AgentRecord): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#pending.set(a.updater_id, a);
    if (this.#pending.size >= this.#o.maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#o.batchMs);
    return done;
  }

  /** Writes what is pending (after the batch in flight), then settles its reports; resolves when done. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#writing) await this.#writing;
    const batch = [...this.#pending.values()];
    const waiters = this.#waiters;
    this.#pending = new Map();
    this.#waiters = [];
    if (batch.length === 0) return;
    const rows = batch.map((a) => ({
      updater_id: a.updater_id,
      hostname: a.hostname,
      grp: a.group,
      version: a.version,
      state: a.state,
      error: a.error ?? null,
      last_seen: a.last_seen,
      failed_version: a.failed_version ?? null,
      updater_version: a.updater_version ?? null,
      updater_failed_version: a.updater_failed_version ?? null,
    }));
    const writing = this.#o
      .run((sql) => sql.unsafe(UPSERT, [JSON.stringify(rows)]), true)
      .then(
        () => {
          this.stats.batches++;
          this.stats.reports += waiters.length;
          for (const w of waiters) w.resolve();
        },
        (e) => {
          for (const w of waiters) w.reject(e);
        },
      )
      .finally(() => {
        if (this.#writing === writing) this.#writing = undefined;
      });
    this.#writing = writing;
    await writing;
  }

  /** Every agent (seen at or after `seenSince` when given), oldest report first. */
  async list(o: { seenSince?: string } = {}): Promise<AgentRecord[]> {
    const rows = await this.#o.run(
      (sql) =>
        o.seenSince === undefined
          ? sql.unsafe(`SELECT ${COLUMNS} FROM agents ORDER BY last_seen, updater_id`)
          : sql.unsafe(`SELECT ${COLUMNS} FROM agents WHERE last_seen >= $1 ORDER BY last_seen, updater_id`, [
              o.seenSince,
            ]),
      false,
    );
    return (rows as AgentRow[]).map(agentOfRow);
  }

  /** One page of the agents a query matches, by updater id, and how many match in all. */
  async page(q: AgentQuery): Promise<AgentPage> {
    const w = where(q);
    const [count] = await this.#o.run(
      (sql) => sql.unsafe(`SELECT count(*)::integer AS n FROM agents${whereSql(w.terms)}`, w.params),
      false,
    );
    const params: (string | number)[] = [...w.params];
    const terms = [...w.terms];
    if (q.after !== undefined) {
      params.push(q.after);
      terms.push(`updater_id > $${params.length}`);
    }
    params.push(q.limit + 1);
    const rows = (await this.#o.run(
      (sql) =>
        sql.unsafe(
          `SELECT ${COLUMNS} FROM agents${whereSql(terms)} ORDER BY updater_id LIMIT $${params.length}`,
          params,
        ),
      false,
    )) as AgentRow[];
    return {
      agents: rows.slice(0, q.limit).map(agentOfRow),
      total: Number(count?.n ?? 0),
      more: rows.length > q.limit,
    };
  }

  /** Deletes up to `limit` agents last seen before `before` (ISO time); answers how many. */
  async prune(before: string, limit: number): Promise<number> {
    const r = await this.#o.run(
      (sql) =>
        sql.unsafe(
          "DELETE FROM agents WHERE updater_id IN (SELECT updater_id FROM agents WHERE last_seen < $1 LIMIT $2)",
          [before, limit],
        ),
      true,
    );
    return Number(r.count ?? 0);
  }
}
