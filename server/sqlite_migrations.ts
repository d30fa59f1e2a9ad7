/**
 * The SQLite schema: numbered migrations, the schema version kept in `PRAGMA user_version`, each applied in
 * its own transaction (pg_migrations.ts is PostgreSQL's).
 */
import type { Database } from "bun:sqlite";

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
  // 3: GET /v1/agents filters and pages in SQL; pruning and presence look agents up by last_seen.
  `CREATE INDEX agents_by_seen ON agents (last_seen);
   CREATE INDEX agents_by_group ON agents (grp, updater_id);
   CREATE INDEX agents_by_version ON agents (version, updater_id);
   CREATE INDEX agents_by_state ON agents (state, updater_id);
   CREATE INDEX agents_by_hostname ON agents (hostname);`,
  // 4: the rollout carries a generation, moved by every write: compare-and-swap fences a stale writer.
  "ALTER TABLE rollout ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;",
  // 5: host names are searched by prefix in any case (LIKE folds ASCII case; it uses a NOCASE index only).
  `DROP INDEX agents_by_hostname;
   CREATE INDEX agents_by_hostname_nocase ON agents (hostname COLLATE NOCASE);`,
  // 6: dashboard login sessions, kept in the store (sqlite_sessions.ts): by the sha256 of their id.
  `CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, kind TEXT NOT NULL,
                          csrf TEXT NOT NULL, created TEXT NOT NULL, last_used TEXT NOT NULL,
                          expires TEXT NOT NULL, flash TEXT);
   CREATE INDEX sessions_by_expires ON sessions (expires);
   CREATE INDEX sessions_by_last_used ON sessions (last_used);`,
  // 7: the upkeep version each agent's updater runs, and a self-update of it that failed (DESIGN §9).
  `ALTER TABLE agents ADD COLUMN updater_version TEXT;
   ALTER TABLE agents ADD COLUMN updater_failed_version TEXT;`,
];

/** Brings the schema of `db` up to date. */
export function migrate(db: Database): void {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  for (let v = row.user_version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.run(MIGRATIONS[v] as string);
      db.run(`PRAGMA user_version = ${v + 1}`);
    })();
  }
}
