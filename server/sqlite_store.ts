/**
 * The embedded default store: SQLite (WAL) in the data dir, with numbered migrations.
 *
 * The database is proved writable when it opens (a write that is committed), and before every write the
 * file at the path must still be the one that was opened: a database deleted or replaced under a running
 * server would otherwise take every later write into an unlinked file, lost at the next start. Once that
 * is seen, writes are refused until a restart (reads keep answering from the open file). The schema:
 * sqlite_migrations.ts; the file's identity and refusals: sqlite_file.ts.
 */
import { Database } from "bun:sqlite";
import { errorCodeOf } from "../core/sys/io_error.ts";
import type { ResourceKind } from "../core/wire/mod.ts";
import { AgentTable } from "./sqlite_agents.ts";
import { type FileId, fileId, filesChanged, openError, WRITE_FAILED } from "./sqlite_file.ts";
import { migrate } from "./sqlite_migrations.ts";
import { SqliteSessionTable } from "./sqlite_sessions.ts";
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

export interface SqliteStoreOptions {
  /** How long a batch of reports stays open before its one transaction (ms). Default 5. */
  reportBatchMs?: number;
  /**
   * Told when writes start being refused: once when the database file is first seen removed or replaced,
   * and at each write SQLite itself refuses (read-only, disk full). The server logs it.
   */
  onUnavailable?: (e: StoreUnavailableError) => void;
}

export class SqliteStore implements Store {
  readonly #db: Database;
  readonly #path: string;
  readonly #o: SqliteStoreOptions;
  /** The files opened (database, WAL), to notice them removed or replaced; none for `:memory:`. */
  readonly #ids: { path: string; id: FileId }[] = [];
  /** Set once the database is seen removed or replaced: every later write is refused with it. */
  #gone: StoreUnavailableError | undefined;
  #goneSince: string | undefined;
  readonly #agents: AgentTable;
  readonly #sessions: SqliteSessionTable;
  /** subscribe() listeners, told after each committed write. */
  readonly #listeners = new Set<(what: StoreChange) => void>();

  constructor(path: string, o: SqliteStoreOptions = {}) {
    this.#path = path;
    this.#o = o;
    const onDisk = path !== ":memory:" && path !== "";
    let db: Database | undefined;
    try {
      db = new Database(path, { create: true, strict: true });
      db.run("PRAGMA journal_mode = WAL");
      db.run("PRAGMA synchronous = NORMAL");
      db.run("PRAGMA busy_timeout = 5000");
      this.#db = db;
      migrate(db);
      this.#agents = new AgentTable(db, {
        write: (fn) => this.#write(fn),
        ...(o.reportBatchMs !== undefined ? { batchMs: o.reportBatchMs } : {}),
      });
      this.#sessions = new SqliteSessionTable(db, (fn) => this.#write(fn));
      // SQLite opens a file it may not write read-only and says so only at the first write: write now.
      if (onDisk) this.#probe();
    } catch (e) {
      db?.close();
      throw openError(path, e);
    }
    if (onDisk) {
      for (const p of [path, `${path}-wal`]) {
        const id = fileId(p);
        if (id) this.#ids.push({ path: p, id });
      }
    }
  }

  /** A committed write that changes nothing (the schema version, rewritten with its own value). */
  #probe(): void {
    this.#db.transaction(() => {
      const { user_version } = this.#db.query("PRAGMA user_version").get() as { user_version: number };
      this.#db.run(`PRAGMA user_version = ${Number(user_version)}`);
    })();
  }

  assertWritable(): void {
    if (this.#gone) throw this.#gone;
    const why = filesChanged(this.#ids);
    if (why === undefined) return;
    this.#gone = new StoreUnavailableError(
      this.#path,
      `the database ${this.#path} is gone: ${why}; writes are refused (nothing would be kept)`,
      {
        hint: `restore ${this.#path} and restart upkeep serve (a restart without it starts from an empty state); reads still answer from the state held in memory`,
      },
    );
    this.#goneSince = new Date().toISOString();
    this.#o.onUnavailable?.(this.#gone);
    throw this.#gone;
  }

  health(): StoreHealth {
    if (this.#gone === undefined) return { ok: true };
    return { ok: false, reason: this.#gone.message, ...(this.#goneSince ? { since: this.#goneSince } : {}) };
  }

  async subscribe(onChange: (what: StoreChange) => void): Promise<() => Promise<void>> {
    // Each subscription its own entry, even for the same function twice.
    const entry = (what: StoreChange) => onChange(what);
    this.#listeners.add(entry);
    return async () => {
      this.#listeners.delete(entry);
    };
  }

  /** Tells the listeners what a committed write changed (a listener that throws does not fail the write). */
  #tell(what: StoreChange): void {
    for (const l of this.#listeners) {
      try {
        l(what);
      } catch {
        // the listener's own problem
      }
    }
  }

  /** Every write: the file must still be ours, and a write SQLite refuses (read-only, full) is a 503. */
  #write<T>(fn: () => T): T {
    this.assertWritable();
    try {
      return fn();
    } catch (e) {
      const code = errorCodeOf(e) ?? "";
      if (!WRITE_FAILED.test(code)) throw e;
      const refused = new StoreUnavailableError(
        this.#path,
        `cannot write the database ${this.#path}: ${(e as Error).message} (${code})`,
        { cause: e, hint: "check the disk (space, permissions, read-only mount); nothing was changed" },
      );
      this.#o.onUnavailable?.(refused);
      throw refused;
    }
  }

  async getResource(kind: ResourceKind): Promise<unknown | undefined> {
    const row = this.#db.query("SELECT value FROM resources WHERE kind = ?").get(kind) as {
      value: string;
    } | null;
    return row ? JSON.parse(row.value) : undefined;
  }

  async putResource(kind: ResourceKind, value: unknown): Promise<void> {
    this.#write(() => {
      this.#db
        .query("INSERT OR REPLACE INTO resources (kind, value, updated) VALUES (?, ?, ?)")
        .run(kind, JSON.stringify(value), new Date().toISOString());
    });
    this.#tell(`resource:${kind}`);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.#db.query("SELECT value FROM settings WHERE key = ?").get(key) as {
      value: string;
    } | null;
    return row?.value;
  }

  async putSetting(key: string, value: string): Promise<void> {
    this.#write(() => {
      this.#db.query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, value);
    });
    this.#tell(`setting:${key}`);
  }

  async getRollout(): Promise<unknown | undefined> {
    const row = this.#db.query("SELECT value FROM rollout WHERE id = 1").get() as { value: string } | null;
    const value = row ? JSON.parse(row.value) : undefined;
    return value ?? undefined; // a cleared rollout is stored as null
  }

  async putRollout(value: unknown): Promise<void> {
    this.#write(() => {
      this.#db
        .query(
          `INSERT INTO rollout (id, value, generation) VALUES (1, ?, 1)
           ON CONFLICT (id) DO UPDATE SET value = excluded.value, generation = rollout.generation + 1`,
        )
        .run(JSON.stringify(value));
    });
    this.#tell("rollout");
  }

  async getRolloutState(): Promise<RolloutState | undefined> {
    const row = this.#db.query("SELECT value, generation FROM rollout WHERE id = 1").get() as {
      value: string;
      generation: number;
    } | null;
    if (!row) return undefined;
    return { value: JSON.parse(row.value) ?? undefined, generation: Number(row.generation) };
  }

  async casRollout(expectedGeneration: number, value: unknown, events: RolloutEvent[]): Promise<boolean> {
    const swapped = this.#write(() =>
      this.#db.transaction(() => {
        const row = this.#db.query("SELECT generation FROM rollout WHERE id = 1").get() as {
          generation: number;
        } | null;
        if ((row ? Number(row.generation) : 0) !== expectedGeneration) return false;
        this.#db
          .query("INSERT OR REPLACE INTO rollout (id, value, generation) VALUES (1, ?, ?)")
          .run(JSON.stringify(value), expectedGeneration + 1);
        this.#insertEvents(events);
        return true;
      })(),
    );
    if (swapped) this.#tell("rollout");
    return swapped;
  }

  #insertEvents(events: RolloutEvent[]): void {
    const insert = this.#db.query(
      "INSERT INTO events (time, grp, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
    );
    for (const e of events) insert.run(e.time, e.group, e.from, e.to, e.reason);
  }

  async appendEvents(events: RolloutEvent[]): Promise<void> {
    this.#write(() => {
      this.#db.transaction(() => this.#insertEvents(events))();
    });
    if (events.length > 0) this.#tell("rollout");
  }

  async listEvents(limit: number): Promise<RolloutEvent[]> {
    const rows = this.#db
      .query(
        "SELECT time, grp AS 'group', from_state AS 'from', to_state AS 'to', reason FROM events ORDER BY seq DESC LIMIT ?",
      )
      .all(limit) as RolloutEvent[];
    return rows.reverse();
  }

  upsertAgent(a: AgentRecord): Promise<void> {
    return this.#agents.upsert(a);
  }

  async listAgents(o: { seenSince?: string } = {}): Promise<AgentRecord[]> {
    return this.#agents.list(o);
  }

  async queryAgents(q: AgentQuery): Promise<AgentPage> {
    return this.#agents.page(q);
  }

  async pruneAgents(before: string, limit: number): Promise<number> {
    return this.#agents.prune(before, limit);
  }

  /** Report batches committed since open, and the reports in them. */
  reportBatches(): { batches: number; reports: number } {
    return { ...this.#agents.stats };
  }

  async addToken(t: TokenRecord): Promise<void> {
    this.#write(() => {
      this.#db
        .query("INSERT OR IGNORE INTO tokens (id, kind, hash, name, created) VALUES (?, ?, ?, ?, ?)")
        .run(t.id, t.kind, t.hash, t.name, t.created);
    });
    this.#tell("tokens");
  }

  async listTokens(kind: TokenKind): Promise<TokenRecord[]> {
    return this.#db
      .query("SELECT id, kind, hash, name, created FROM tokens WHERE kind = ? ORDER BY created")
      .all(kind) as TokenRecord[];
  }

  async removeTokens(ids: string[]): Promise<number> {
    const removed = this.#write(() => {
      const del = this.#db.query("DELETE FROM tokens WHERE id = ?");
      let n = 0;
      this.#db.transaction(() => {
        for (const id of ids) n += del.run(id).changes;
      })();
      return n;
    });
    if (removed > 0) this.#tell("tokens");
    return removed;
  }

  async addSession(session: SessionRecord): Promise<void> {
    this.#sessions.add(session);
  }

  async getSession(idHash: string, now: string): Promise<SessionRecord | undefined> {
    return this.#sessions.get(idHash, now);
  }

  async touchSession(idHash: string, lastUsed: string, expires: string): Promise<void> {
    this.#sessions.touch(idHash, lastUsed, expires);
  }

  async setSessionFlash(idHash: string, flash: SessionRecord["flash"]): Promise<void> {
    this.#sessions.setFlash(idHash, flash);
  }

  async endSession(idHash: string): Promise<boolean> {
    return this.#sessions.end(idHash);
  }

  async pruneSessions(now: string, keep: number): Promise<number> {
    return this.#sessions.prune(now, keep);
  }

  async putArtifact(a: ReleaseArtifact): Promise<void> {
    this.#write(() => {
      this.#db
        .query("INSERT OR REPLACE INTO artifacts (name, size, sha256, uploaded) VALUES (?, ?, ?, ?)")
        .run(a.name, a.size, a.sha256, a.uploaded);
    });
    this.#tell("artifacts");
  }

  async listArtifacts(): Promise<ReleaseArtifact[]> {
    return this.#db
      .query("SELECT name, size, sha256, uploaded FROM artifacts ORDER BY name")
      .all() as ReleaseArtifact[];
  }

  async getArtifact(name: string): Promise<ReleaseArtifact | undefined> {
    return (
      (this.#db
        .query("SELECT name, size, sha256, uploaded FROM artifacts WHERE name = ?")
        .get(name) as ReleaseArtifact | null) ?? undefined
    );
  }

  close(): void {
    this.#listeners.clear();
    try {
      this.#agents.flush();
    } finally {
      this.#db.close();
    }
  }
}
