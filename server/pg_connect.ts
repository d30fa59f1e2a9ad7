/**
 * Reaching PostgreSQL: the URL as it may be shown (password masked), which errors mean the database cannot
 * be reached, and the connection the store opens (schema brought up to date), refused with why.
 */
import { SQL } from "bun";
import { UpkeepError } from "../core/errors.ts";
import { migrate } from "./pg_migrations.ts";
import { StoreUnavailableError } from "./store.ts";

/** A PostgreSQL URL as it may be shown: the password replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    if (u.searchParams.has("password")) u.searchParams.set("password", "***");
    return u.toString();
  } catch {
    // Not parseable: show nothing that could be a password.
    return url.replace(/\/\/([^:/@]*):.*@/, "//$1:***@");
  }
}

/** Errors that mean "the database cannot be reached now" (not "this statement is wrong"). */
export function isUnreachable(e: unknown): boolean {
  const err = e as { code?: unknown; errno?: unknown };
  const code = typeof err?.code === "string" ? err.code : "";
  const sqlstate = typeof err?.errno === "string" ? err.errno : "";
  if (/CONNECTION|TIMEOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE/.test(code))
    return true;
  // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now; 53300: too many connections.
  return /^08|^57P0[1-3]$|^53300$/.test(sqlstate);
}

/** The 503 error of an operation that could not reach the database at `where`. */
export function unreachableError(where: string, e: unknown): StoreUnavailableError {
  const msg = (e as Error).message ?? String(e);
  const code = (e as { code?: string }).code;
  return new StoreUnavailableError(
    where,
    `the database ${where} cannot be reached: ${msg}${code ? ` (${code})` : ""}; writes are refused until it answers`,
    {
      cause: e,
      hint: "serve retries on its own; reads answer from what it holds. Check PostgreSQL (pg_isready) and the network",
    },
  );
}

/**
 * Connects to `url` and brings the schema up to date (once, whatever replicas start together). A database
 * that cannot be reached or used is a refusal naming it (password masked) and why.
 */
export async function connect(
  url: string,
  o: { maxConnections?: number; connectTimeoutSeconds?: number },
): Promise<{ sql: SQL; where: string }> {
  const where = maskUrl(url);
  let sql: SQL;
  try {
    sql = new SQL(url, {
      max: o.maxConnections ?? 10,
      connectionTimeout: o.connectTimeoutSeconds ?? 5,
      idleTimeout: 60,
      // Notices (e.g. "relation already exists, skipping") are not news.
      connection: { client_min_messages: "warning", application_name: "upkeep serve" },
    });
  } catch (e) {
    throw new UpkeepError(
      "E_USAGE",
      `--store ${where}: not a usable PostgreSQL URL: ${(e as Error).message}`,
      {
        cause: e,
        exitCode: 2,
        hint: "e.g. postgres://upkeep:PASSWORD@db.example.com:5432/upkeep",
      },
    );
  }
  try {
    await migrate(sql, where);
  } catch (e) {
    await sql.close().catch(() => {});
    if (e instanceof UpkeepError) throw e;
    const msg = (e as Error).message ?? String(e);
    const code = (e as { code?: string }).code;
    throw new UpkeepError(
      "E_IO",
      `cannot use the database ${where}: ${msg}${code && code !== "ERR_POSTGRES_SERVER_ERROR" ? ` (${code})` : ""}`,
      {
        cause: e,
        // Unreachable may pass (a restart of the database: systemd starts serve again); the rest is the
        // operator's to fix, like a bad flag.
        exitCode: isUnreachable(e) ? 1 : 2,
        hint: isUnreachable(e)
          ? "check that PostgreSQL runs and answers at that host and port (pg_isready), and the URL's user, password and database"
          : "check the URL's user, password and database, and that this user may create tables in it",
      },
    );
  }
  return { sql, where };
}
