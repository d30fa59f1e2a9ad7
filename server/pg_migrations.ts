/**
 * The PostgreSQL schema: numbered migrations recorded in `schema_migrations`, applied once under a session
 * advisory lock so that replicas starting together on an empty database do not race (the first applies,
 * the others wait on the lock, then find nothing left to do). A database whose schema is newer than this
 * build knows is refused: an older replica must not write into tables it does not understand.
 *
 * Text columns that are compared or ordered are `COLLATE "C"` (byte order, like SQLite's default), so pages
 * of agents come in the same order on both stores whatever the database's locale. JSON documents are kept
 * as text (not jsonb): they come back byte for byte as written.
 */
import type { SQL } from "bun";
import { UpkeepError } from "../core/errors.ts";

/** Each entry moves the schema one version up; never edit a shipped entry, append a new one. */
export const PG_MIGRATIONS: string[] = [
  // 1: everything SQLite's migrations 1-5 made, at once.
  `CREATE TABLE resources (kind text PRIMARY KEY, value text NOT NULL, updated text NOT NULL);
   CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
   CREATE TABLE rollout (id integer PRIMARY KEY CHECK (id = 1), value text NOT NULL, generation bigint NOT NULL);
   CREATE TABLE events (seq bigserial PRIMARY KEY, "time" text NOT NULL, grp text NOT NULL,
                        from_state text NOT NULL, to_state text NOT NULL, reason text NOT NULL);
   CREATE TABLE agents (updater_id text COLLATE "C" PRIMARY KEY, hostname text COLLATE "C" NOT NULL,
                        grp text COLLATE "C" NOT NULL, version text COLLATE "C" NOT NULL,
                        state text COLLATE "C" NOT NULL, error text, last_seen text COLLATE "C" NOT NULL,
                        failed_version text);
   CREATE INDEX agents_by_seen ON agents (last_seen);
   CREATE INDEX agents_by_group ON agents (grp, updater_id);
   CREATE INDEX agents_by_version ON agents (version, updater_id);
   CREATE INDEX agents_by_state ON agents (state, updater_id);
   CREATE INDEX agents_by_hostname_lower ON agents (lower(hostname));
   CREATE TABLE tokens (id text PRIMARY KEY, kind text NOT NULL, hash text NOT NULL UNIQUE, name text NOT NULL,
                        created text COLLATE "C" NOT NULL);
   CREATE TABLE artifacts (name text COLLATE "C" PRIMARY KEY, size bigint NOT NULL, sha256 text NOT NULL,
                           uploaded text NOT NULL);`,
  // 2: the upkeep version each agent's updater runs, and a self-update of it that failed (SQLite's 6).
  `ALTER TABLE agents ADD COLUMN updater_version text COLLATE "C",
                     ADD COLUMN updater_failed_version text;`,
];

/** The session advisory lock key taken while migrating (other upkeep locks use other keys). */
export const MIGRATION_LOCK_KEY = 0x75706b6d; // "upkm"

export interface Migrated {
  /** The schema version found (0: an empty database). */
  from: number;
  to: number;
}

/** The schema version recorded in the database (0 when there is no schema_migrations table yet). */
export async function schemaVersion(sql: SQL): Promise<number> {
  const [exists] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
  if (!exists?.present) return 0;
  const [row] = await sql`SELECT coalesce(max(version), 0)::integer AS v FROM schema_migrations`;
  return Number(row?.v ?? 0);
}

/**
 * Brings the schema up to this build's version, once, under the advisory lock (on a connection of its
 * own, released at the end). Refuses a database whose schema is newer than `migrations` knows.
 */
export async function migrate(
  sql: SQL,
  where: string,
  migrations: string[] = PG_MIGRATIONS,
): Promise<Migrated> {
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await conn.unsafe(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
      );
      const from = await schemaVersion(conn);
      if (from > migrations.length)
        throw new UpkeepError(
          "E_INCOMPATIBLE",
          `the database ${where} has schema version ${from}, newer than this upkeep knows (version ${migrations.length})`,
          {
            exitCode: 2,
            hint: "a newer upkeep migrated it: run that version (upgrade every replica), or point --store at another database",
          },
        );
      for (let v = from; v < migrations.length; v++) {
        await conn.begin(async (tx) => {
          await tx.unsafe(migrations[v] as string);
          await tx`INSERT INTO schema_migrations (version) VALUES (${v + 1})`;
        });
      }
      return { from, to: Math.max(from, migrations.length) };
    } finally {
      await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}
