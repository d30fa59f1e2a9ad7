/**
 * The `agents` table of the SQLite store: reports written in batches (group commit), pages of agents
 * filtered and counted by SQL (indexes from migration 3), and pruning of agents long gone.
 *
 * Group commit: a report joins the open batch; the batch is written in ONE transaction `batchMs` (5 ms)
 * after its first report (or at once when it holds `maxBatch`), and every report's promise resolves only once that
 * transaction committed: a report answered 2xx is in the database file (WAL), and survives kill -9.
 */
import type { Database } from "bun:sqlite";
import type { AgentPage, AgentQuery, AgentRecord } from "./store.ts";
import { type AgentRow, agentOfRow, likePrefix } from "./store_rows.ts";

const COLUMNS =
  "updater_id, hostname, grp AS 'group', version, state, error, last_seen, failed_version, updater_version, updater_failed_version";

/** The WHERE clause of a query's filters (not its cursor), and its parameters. */
function where(q: AgentQuery): { sql: string; params: string[] } {
  const terms: string[] = [];
  const params: string[] = [];
  if (q.group && "is" in q.group) {
    terms.push("grp = ?");
    params.push(q.group.is);
  } else if (q.group && q.group.notIn.length > 0) {
    terms.push(`grp NOT IN (${q.group.notIn.map(() => "?").join(", ")})`);
    params.push(...q.group.notIn);
  }
  const eq: [string, string | undefined][] = [
    ["version", q.version],
    ["state", q.state],
  ];
  for (const [col, v] of eq) {
    if (v === undefined) continue;
    terms.push(`${col} = ?`);
    params.push(v);
  }
  if (q.hostnamePrefix !== undefined) {
    terms.push("hostname LIKE ? ESCAPE '\\'");
    params.push(likePrefix(q.hostnamePrefix));
  }
  if (q.updaterIds !== undefined) {
    terms.push(`updater_id IN (${q.updaterIds.map(() => "?").join(", ")})`);
    params.push(...q.updaterIds);
  }
  if (q.seenSince !== undefined) {
    terms.push("last_seen >= ?");
    params.push(q.seenSince);
  }
  if (q.seenBefore !== undefined) {
    terms.push("last_seen < ?");
    params.push(q.seenBefore);
  }
  return { sql: terms.length === 0 ? "" : terms.join(" AND "), params };
}

export interface AgentTableOptions {
  /** Runs a write: the store's checks (file still ours, a refused write is a 503). */
  write: <T>(fn: () => T) => T;
  /** How long a batch stays open after its first report (ms). Default 5. */
  batchMs?: number;
  /** A batch this full is written at once. Default 1000. */
  maxBatch?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AgentTable {
  readonly #db: Database;
  readonly #o: Required<AgentTableOptions>;
  #pending = new Map<string, AgentRecord>();
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Batches committed and reports in them, since open (for /metrics). */
  readonly stats = { batches: 0, reports: 0 };

  constructor(db: Database, o: AgentTableOptions) {
    this.#db = db;
    this.#o = { batchMs: 5, maxBatch: 1000, ...o };
  }

  /** Resolves once the report is committed (rejects when its batch could not be written). */
  upsert(a: AgentRecord): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#pending.set(a.updater_id, a);
    if (this.#pending.size >= this.#o.maxBatch) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#o.batchMs);
    return done;
  }

  /** Writes the open batch now (one transaction), then settles its reports. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    const waiters = this.#waiters;
    this.#pending = new Map();
    this.#waiters = [];
    if (batch.length === 0) return;
    try {
      this.#o.write(() => this.#writeBatch(batch));
    } catch (e) {
      for (const w of waiters) w.reject(e);
      return;
    }
    this.stats.batches++;
    this.stats.reports += waiters.length;
    for (const w of waiters) w.resolve();
  }

  #writeBatch(batch: AgentRecord[]): void {
    // Most reports say what the agent said last time: then only last_seen moves, and the one UPDATE that
    // sets it touches the row and one index, not all five (a third of the cost).
    const touch = this.#db.query(
      `UPDATE agents SET last_seen = ? WHERE updater_id = ? AND hostname = ? AND grp = ? AND version = ?
         AND state = ? AND error IS ? AND failed_version IS ? AND updater_version IS ?
         AND updater_failed_version IS ?`,
    );
    const upsert = this.#db.query(
      `INSERT INTO agents (updater_id, hostname, grp, version, state, error, last_seen, failed_version,
                           updater_version, updater_failed_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (updater_id) DO UPDATE SET hostname = excluded.hostname, grp = excluded.grp,
         version = excluded.version, state = excluded.state, error = excluded.error,
         last_seen = excluded.last_seen, failed_version = excluded.failed_version,
         updater_version = excluded.updater_version, updater_failed_version = excluded.updater_failed_version`,
    );
    this.#db.transaction(() => {
      for (const a of batch) {
        const error = a.error ?? null;
        const failed = a.failed_version ?? null;
        const updater = a.updater_version ?? null;
        const updaterFailed = a.updater_failed_version ?? null;
        const same = [a.updater_id, a.hostname, a.group, a.version, a.state, error, failed] as const;
        if (touch.run(a.last_seen, ...same, updater, updaterFailed).changes > 0) continue;
        upsert.run(
          a.updater_id,
          a.hostname,
          a.group,
          a.version,
          a.state,
          error,
          a.last_seen,
          failed,
          updater,
          updaterFailed,
        );
      }
    })();
  }

  /** Every agent (seen at or after `seenSince` when given), oldest report first. */
  list(o: { seenSince?: string } = {}): AgentRecord[] {
    const rows =
      o.seenSince === undefined
        ? this.#db.query(`SELECT ${COLUMNS} FROM agents ORDER BY last_seen, updater_id`).all()
        : this.#db
            .query(`SELECT ${COLUMNS} FROM agents WHERE last_seen >= ? ORDER BY last_seen, updater_id`)
            .all(o.seenSince);
    return (rows as AgentRow[]).map(agentOfRow);
  }

  /** One page of the agents a query matches, by updater id, and how many match in all. */
  page(q: AgentQuery): AgentPage {
    const w = where(q);
    const total = (
      this.#db
        .query(`SELECT count(*) AS n FROM agents${w.sql ? ` WHERE ${w.sql}` : ""}`)
        .get(...w.params) as {
        n: number;
      }
    ).n;
    const terms = [w.sql, q.after === undefined ? "" : "updater_id > ?"].filter((t) => t !== "");
    const params = q.after === undefined ? w.params : [...w.params, q.after];
    const rows = this.#db
      .query(
        `SELECT ${COLUMNS} FROM agents${terms.length ? ` WHERE ${terms.join(" AND ")}` : ""} ORDER BY updater_id LIMIT ?`,
      )
      .all(...params, q.limit + 1) as AgentRow[];
    return { agents: rows.slice(0, q.limit).map(agentOfRow), total, more: rows.length > q.limit };
  }

  /** Deletes up to `limit` agents last seen before `before` (ISO time); answers how many. */
  prune(before: string, limit: number): number {
    return this.#o.write(
      () =>
        this.#db
          .query(
            "DELETE FROM agents WHERE updater_id IN (SELECT updater_id FROM agents WHERE last_seen < ? LIMIT ?)",
          )
          .run(before, limit).changes,
    );
  }
}
