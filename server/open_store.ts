/**
 * Opens the server's store from its target: a `postgres://` / `postgresql://` URL (several replicas may
 * share it), or by default SQLite in the data dir, which one server owns (`serve.lock`). The data dir is
 * created either way (the local artifacts live there). What is shown of the target never holds a password.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UpkeepError, UsageError } from "../core/errors.ts";
import { errorCodeOf } from "../core/sys/io_error.ts";
import { acquireLock } from "../core/sys/lock.ts";
import type { LogFn } from "./log.ts";
import { maskUrl, PgStore, type PgStoreOptions } from "./pg_store.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { Store } from "./store.ts";

/** A store as the server uses it: the Store, and its report batch counters. */
export type ServerStore = Store & { reportBatches(): { batches: number; reports: number } };

export interface OpenedStore {
  store: ServerStore;
  kind: "sqlite" | "postgres";
  /** What to show for it: the SQLite file, or the URL with its password masked. */
  where: string;
  /** Closes the store (pending reports committed) and releases the data dir's lock. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  dataDir: string;
  log: LogFn;
  /** Who holds serve.lock, as written in it (e.g. "upkeep serve --listen 127.0.0.1:8080"). */
  what: string;
  /** PostgreSQL tuning (tests). */
  pg?: PgStoreOptions;
}

/** True for a target naming a PostgreSQL database. */
export function isPostgresUrl(target: string | undefined): target is string {
  return target !== undefined && /^postgres(ql)?:\/\//i.test(target);
}

/** Opens `target` (a PostgreSQL URL), or SQLite in `dataDir` when it is undefined. */
export async function openStore(target: string | undefined, o: OpenStoreOptions): Promise<OpenedStore> {
  makeDataDir(o.dataDir);
  if (isPostgresUrl(target)) {
    const where = maskUrl(target);
    const store = await PgStore.open(target, {
      onUnavailable: (e) => o.log(`database unavailable: ${e.message}`, { store: where, hint: e.hint }),
      onAvailable: () => o.log("database available again: writes are accepted", { store: where }),
      ...o.pg,
    });
    return { store, kind: "postgres", where, close: () => store.close() };
  }
  if (target !== undefined && target !== "")
    throw new UsageError("--store: not a postgres:// URL", {
      hint: "leave --store out for SQLite in the data dir",
    });
  const { store, dirLock } = await openSqlite(o);
  return {
    store,
    kind: "sqlite",
    where: join(o.dataDir, "upkeep.db"),
    close: async () => {
      try {
        store.close();
      } finally {
        dirLock.release();
      }
    },
  };
}

/** A file system refusal: permission, immutable file, read-only mount. */
function isDenied(e: unknown): boolean {
  return /^(EACCES|EPERM|EROFS)$/.test(errorCodeOf(e) ?? "");
}

function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UpkeepError("E_IO", `cannot create data dir ${dataDir}: ${(e as Error).message}`, {
      cause: e,
      ...(isDenied(e) ? { exitCode: 2, hint: "give --data-dir a directory this user may write" } : {}),
    });
  }
}

/** Takes the data dir's lock (one server per data dir: SQLite only). */
export async function lockDataDir(dataDir: string, what: string): Promise<{ release(): void }> {
  try {
    return await acquireLock(join(dataDir, "serve.lock"), {
      waitMs: 0,
      what,
      busy: {
        who: "another upkeep serve",
        hint: "one server per --data-dir: stop the other one, or give this one its own data dir",
      },
    });
  } catch (e) {
    // A data dir this user may not write is the operator's to fix, like a bad flag (exit 2).
    if (e instanceof UpkeepError && e.code === "E_IO" && isDenied(e.cause))
      throw new UpkeepError("E_IO", `cannot write the data dir ${dataDir}: ${e.message}`, {
        cause: e,
        exitCode: 2,
        hint: "serve keeps its lock, database and artifacts there: make it writable by this user (owner, mode, lsattr, read-only mount)",
      });
    throw e;
  }
}

/** Locks the data dir and opens its SQLite database. */
async function openSqlite(
  o: OpenStoreOptions,
): Promise<{ store: SqliteStore; dirLock: { release(): void } }> {
  // One server per data dir: two would each run their own reconciler and overwrite each other's rollout.
  const dirLock = await lockDataDir(o.dataDir, o.what);
  try {
    const store = new SqliteStore(join(o.dataDir, "upkeep.db"), {
      onUnavailable: (e) => o.log(`database unavailable: ${e.message}`, { file: e.file, hint: e.hint }),
    });
    return { store, dirLock };
  } catch (e) {
    dirLock.release();
    throw e;
  }
}
