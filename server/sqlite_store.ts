/** The embedded default store: SQLite (WAL) in the data dir, with numbered migrations. */
import { Database } from "bun:sqlite";
import type {
  AgentRecord,
  ReleaseArtifact,
  ResourceKind,
  RolloutEvent,
  Store,
  TokenKind,
  TokenRecord,
} from "./store.ts";

/** Each entry moves the schema one version up; never edit a shipped entry, append a new one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE resources (kind TEXT PRIMARY KEY, value TEXT NOT NULL, updated TEXT NOT NULL);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE rollout (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
   CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, grp TEXT NOT NULL,
                        from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL);
   CREATE TABLE agents (updater_id TEXT PRIMARY KEY, hostname TEXT NOT NULL, grp TEXT NOT NULL,
                        version TEXT NOT NULL, state TEXT NOT NULL, error TEXT, last_seen TEXT NOT NULL);
   CREATE TABLE tokens (id TEXT PRIMARY KEY, kind TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                        created TEXT NOT NULL);
   CREATE TABLE artifacts (name TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
                           uploaded TEXT NOT NULL);`,
  // 2: the version an agent's last update failed on survives a restart (failure counts, canary verdicts).
  "ALTER TABLE agents ADD COLUMN failed_version TEXT;",
];

export class SqliteStore implements Store {
  readonly #db: Database;

  constructor(path: string) {
    this.#db = new Database(path, { create: true, strict: true });
    this.#db.run("PRAGMA journal_mode = WAL");
    this.#db.run("PRAGMA synchronous = NORMAL");
    this.#db.run("PRAGMA busy_timeout = 5000");
    this.#migrate();
  }

  #migrate(): void {
    const row = this.#db.query("PRAGMA user_version").get() as { user_version: number };
    for (let v = row.user_version; v < MIGRATIONS.length; v++) {
      this.#db.transaction(() => {
        this.#db.run(MIGRATIONS[v] as string);
        this.#db.run(`PRAGMA user_version = ${v + 1}`);
      })();
    }
  }

  async getResource(kind: ResourceKind): Promise<unknown | undefined> {
    const row = this.#db.query("SELECT value FROM resources WHERE kind = ?").get(kind) as {
      value: string;
    } | null;
    return row ? JSON.parse(row.value) : undefined;
  }

  async putResource(kind: ResourceKind, value: unknown): Promise<void> {
    this.#db
      .query("INSERT OR REPLACE INTO resources (kind, value, updated) VALUES (?, ?, ?)")
      .run(kind, JSON.stringify(value), new Date().toISOString());
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.#db.query("SELECT value FROM settings WHERE key = ?").get(key) as {
      value: string;
    } | null;
    return row?.value;
  }

  async putSetting(key: string, value: string): Promise<void> {
    this.#db.query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, value);
  }

  async getRollout(): Promise<unknown | undefined> {
    const row = this.#db.query("SELECT value FROM rollout WHERE id = 1").get() as { value: string } | null;
    const value = row ? JSON.parse(row.value) : undefined;
    return value ?? undefined; // a cleared rollout is stored as null
  }

  async putRollout(value: unknown): Promise<void> {
    this.#db.query("INSERT OR REPLACE INTO rollout (id, value) VALUES (1, ?)").run(JSON.stringify(value));
  }

  async appendEvents(events: RolloutEvent[]): Promise<void> {
    const insert = this.#db.query(
      "INSERT INTO events (time, grp, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
    );
    this.#db.transaction(() => {
      for (const e of events) insert.run(e.time, e.group, e.from, e.to, e.reason);
    })();
  }

  async listEvents(limit: number): Promise<RolloutEvent[]> {
    const rows = this.#db
      .query(
        "SELECT time, grp AS 'group', from_state AS 'from', to_state AS 'to', reason FROM events ORDER BY seq DESC LIMIT ?",
      )
      .all(limit) as RolloutEvent[];
    return rows.reverse();
  }

  async upsertAgent(a: AgentRecord): Promise<void> {
    this.#db
      .query(
        `INSERT OR REPLACE INTO agents (updater_id, hostname, grp, version, state, error, last_seen, failed_version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.updater_id,
        a.hostname,
        a.group,
        a.version,
        a.state,
        a.error ?? null,
        a.last_seen,
        a.failed_version ?? null,
      );
  }

  async listAgents(): Promise<AgentRecord[]> {
    const rows = this.#db
      .query(
        "SELECT updater_id, hostname, grp AS 'group', version, state, error, last_seen, failed_version FROM agents ORDER BY updater_id",
      )
      .all() as (AgentRecord & { error: string | null; failed_version: string | null })[];
    return rows.map(({ error, failed_version, ...rest }) => ({
      ...rest,
      ...(error === null ? {} : { error }),
      ...(failed_version === null ? {} : { failed_version }),
    }));
  }

  async addToken(t: TokenRecord): Promise<void> {
    this.#db
      .query("INSERT OR IGNORE INTO tokens (id, kind, hash, name, created) VALUES (?, ?, ?, ?, ?)")
      .run(t.id, t.kind, t.hash, t.name, t.created);
  }

  async listTokens(kind: TokenKind): Promise<TokenRecord[]> {
    return this.#db
      .query("SELECT id, kind, hash, name, created FROM tokens WHERE kind = ? ORDER BY created")
      .all(kind) as TokenRecord[];
  }

  async removeTokens(ids: string[]): Promise<number> {
    const del = this.#db.query("DELETE FROM tokens WHERE id = ?");
    let n = 0;
    this.#db.transaction(() => {
      for (const id of ids) n += del.run(id).changes;
    })();
    return n;
  }

  async putArtifact(a: ReleaseArtifact): Promise<void> {
    this.#db
      .query("INSERT OR REPLACE INTO artifacts (name, size, sha256, uploaded) VALUES (?, ?, ?, ?)")
      .run(a.name, a.size, a.sha256, a.uploaded);
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
    this.#db.close();
  }
}
