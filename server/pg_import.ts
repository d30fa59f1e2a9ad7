/**
 * `upkeep serve migrate --from DATA_DIR --to URL`: copies a SQLite server's state (resources, settings, the
 * rollout with its generation and events, agents, tokens, artifact metadata) into a PostgreSQL store, in one
 * transaction: a failure leaves the target as it was.
 *
 * The data dir's serve.lock is held for the whole copy: a serve running on it is refused (its state would
 * move on after the copy), and none can start meanwhile. The target must be empty (its schema is created),
 * unless `force`: then what is there is replaced.
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { SQL } from "bun";
import { UpkeepError, UsageError } from "../core/errors.ts";
import { lockDataDir } from "./open_store.ts";
import { migrate } from "./pg_migrations.ts";
import { CHANGES_CHANNEL, isUnreachable, maskUrl } from "./pg_store.ts";
import { SqliteStore } from "./sqlite_store.ts";

/** The tables copied, in the order they are written, with what one row is called. */
const TABLES = [
  ["resources", "resource"],
  ["settings", "setting"],
  ["rollout", "rollout"],
  ["events", "rollout event"],
  ["agents", "agent"],
  ["tokens", "token"],
  ["artifacts", "artifact"],
] as const;
type Table = (typeof TABLES)[number][0];

export type ImportCounts = Record<Table, number>;

export interface ImportResult {
  from: string;
  to: string;
  counts: ImportCounts;
  /** The rollout's generation as copied (0: none). */
  generation: number;
  /** What the target held before, when `force` replaced it. */
  replaced?: ImportCounts;
}

/** "2 resources, 1 agent": the non-zero counts, or "nothing". */
export function describeCounts(c: ImportCounts, all = false): string {
  const parts = TABLES.filter(([t]) => all || c[t] > 0).map(
    ([t, one]) => `${c[t]} ${one}${c[t] === 1 ? "" : "s"}`,
  );
  return parts.length === 0 ? "nothing" : parts.join(", ");
}

/** Rows are sent in chunks of this many (one JSON parameter each). */
const CHUNK = 5000;

/** Every row of a SQLite table, in its stored order. */
function rowsOf(db: Database, sql: string): Record<string, unknown>[] {
  return db.query(sql).all() as Record<string, unknown>[];
}

export async function importSqlite(o: { from: string; to: string; force?: boolean }): Promise<ImportResult> {
  const dataDir = resolve(o.from);
  const file = join(dataDir, "upkeep.db");
  const to = maskUrl(o.to);
  if (!existsSync(file))
    throw new UsageError(`--from ${dataDir}: no upkeep.db there (not a serve data dir)`, {
      hint: "give the --data-dir of the SQLite server to migrate",
    });
  let lock: { release(): void };
  try {
    lock = await lockDataDir(dataDir, "upkeep serve migrate");
  } catch (e) {
    if (e instanceof UpkeepError && e.code === "E_LOCKED")
      throw new UpkeepError("E_LOCKED", `a serve is running on ${dataDir}: ${e.message}`, {
        cause: e,
        exitCode: 2,
        hint: "stop it first (its state would keep moving after the copy), then migrate and start the replicas on --store",
      });
    throw e;
  }
  try {
    // Brings the SQLite schema to this build's version (and proves it is an upkeep database), then reads it.
    new SqliteStore(file).close();
    const db = new Database(file, { readonly: true });
    let snapshot: Record<Table, Record<string, unknown>[]>;
    try {
      snapshot = db.transaction(() => ({
        resources: rowsOf(db, "SELECT kind, value, updated FROM resources ORDER BY kind"),
        settings: rowsOf(db, "SELECT key, value FROM settings ORDER BY key"),
        rollout: rowsOf(db, "SELECT value, generation FROM rollout WHERE id = 1"),
        events: rowsOf(db, "SELECT time, grp, from_state, to_state, reason FROM events ORDER BY seq"),
        agents: rowsOf(
          db,
          "SELECT updater_id, hostname, grp, version, state, error, last_seen, failed_version, updater_version, updater_failed_version FROM agents ORDER BY updater_id",
        ),
        tokens: rowsOf(db, "SELECT id, kind, hash, name, created FROM tokens ORDER BY created"),
        artifacts: rowsOf(db, "SELECT name, size, sha256, uploaded FROM artifacts ORDER BY name"),
      }))();
    } finally {
      db.close();
    }
    const result = await writeSnapshot(o.to, to, snapshot, o.force === true);
    return { from: file, ...result };
  } finally {
    lock.release();
  }
}

async function writeSnapshot(
  url: string,
  to: string,
  s: Record<Table, Record<string, unknown>[]>,
  force: boolean,
): Promise<Omit<ImportResult, "from">> {
  const sql = new SQL(url, { max: 2, connectionTimeout: 10, connection: { client_min_messages: "warning" } });
  try {
    try {
      await migrate(sql, to);
    } catch (e) {
      if (e instanceof UpkeepError) throw e;
      throw new UpkeepError("E_IO", `cannot use the database ${to}: ${(e as Error).message}`, {
        cause: e,
        exitCode: 2,
        hint: isUnreachable(e)
          ? "check that PostgreSQL runs and answers there (pg_isready), and the URL's user, password and database"
          : "check the URL's user, password and database, and that this user may create tables in it",
      });
    }
    return await sql.begin(async (tx) => {
      const there = await clearTarget(tx, to, force);
      await copySnapshot(tx, s);
      // Replicas already listening re-read everything.
      await tx`SELECT pg_notify(${CHANGES_CHANNEL}, ${"*"})`;
      const counts = {} as ImportCounts;
      for (const [t] of TABLES) counts[t] = s[t].length;
      const generation = Number((s.rollout[0] as { generation?: unknown } | undefined)?.generation ?? 0);
      return { to, counts, generation, ...(there ? { replaced: there } : {}) };
    });
  } finally {
    await sql.close().catch(() => {});
  }
}

/**
 * Locks the target's tables (nobody writes them while we look and copy: replicas already on the target
 * wait) and empties them when `force`; one that holds anything without `force` is refused. Answers what
 * it held, or undefined when it was empty.
 */
async function clearTarget(tx: SQL, to: string, force: boolean): Promise<ImportCounts | undefined> {
  await tx.unsafe(`LOCK TABLE ${TABLES.map(([t]) => t).join(", ")} IN EXCLUSIVE MODE`);
  const there = {} as ImportCounts;
  for (const [t] of TABLES) {
    const [row] = await tx.unsafe(`SELECT count(*)::integer AS n FROM ${t}`);
    there[t] = Number(row?.n ?? 0);
  }
  if (!TABLES.some(([t]) => there[t] > 0)) return undefined;
  if (!force)
    throw new UpkeepError(
      "E_CONFLICT",
      `the database ${to} is not empty: it holds ${describeCounts(there)}`,
      {
        exitCode: 2,
        hint: "migrate into an empty database, or add --force to replace what it holds with the SQLite state",
      },
    );
  await tx.unsafe(`TRUNCATE ${TABLES.map(([t]) => t).join(", ")}`);
  return there;
}

/** Rows into `table`, in the array's order (events keep their sequence): column -> SQL type. */
async function copyRows(
  tx: SQL,
  table: Table,
  cols: Record<string, string>,
  rows: Record<string, unknown>[],
): Promise<void> {
  const names = Object.keys(cols);
  const values = names.map((c) => `(e->>'${c}')::${cols[c]}`).join(", ");
  const text = `INSERT INTO ${table} (${names.map((c) => `"${c}"`).join(", ")})
          SELECT ${values} FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n`;
  for (let i = 0; i < rows.length; i += CHUNK)
    await tx.unsafe(text, [JSON.stringify(rows.slice(i, i + CHUNK))]);
}

/** Every table of the snapshot into the (empty) target. */
async function copySnapshot(tx: SQL, s: Record<Table, Record<string, unknown>[]>): Promise<void> {
  const text = (...cols: string[]) => Object.fromEntries(cols.map((c) => [c, "text"]));
  await copyRows(tx, "resources", text("kind", "value", "updated"), s.resources);
  await copyRows(tx, "settings", text("key", "value"), s.settings);
  const rollout = s.rollout.map((r) => ({ id: 1, ...r }));
  await copyRows(tx, "rollout", { id: "integer", value: "text", generation: "bigint" }, rollout);
  await copyRows(tx, "events", text("time", "grp", "from_state", "to_state", "reason"), s.events);
  const agentCols = ["updater_id", "hostname", "grp", "version", "state", "error", "last_seen"];
  const updaterCols = ["failed_version", "updater_version", "updater_failed_version"];
  await copyRows(tx, "agents", text(...agentCols, ...updaterCols), s.agents);
  await copyRows(tx, "tokens", text("id", "kind", "hash", "name", "created"), s.tokens);
  await copyRows(tx, "artifacts", { ...text("name", "sha256", "uploaded"), size: "bigint" }, s.artifacts);
}
