/**
 * The `sessions` table of the PostgreSQL store (its migration 2): dashboard login sessions shared by every
 * replica, by the sha256 of their id, with the token they were opened with (a session whose token was
 * removed is not answered, and is pruned). Same semantics as sqlite_sessions.ts; the rules (how long a
 * session lives, how often its use is written) are server/dashboard's. Sessions notify nobody: each request
 * reads its session from the table.
 */
import type { SQL } from "bun";
import type { SessionRecord } from "./store.ts";
import { type SessionRow, sessionOfRow } from "./store_rows.ts";

/** The store's way to run one operation (refused at once while the database is down, when a write). */
export type PgRun = <T>(fn: (sql: SQL) => Promise<T>, write: boolean) => Promise<T>;

export class PgSessionTable {
  readonly #run: PgRun;

  constructor(run: PgRun) {
    this.#run = run;
  }

  async add(s: SessionRecord): Promise<void> {
    const flash = s.flash ? JSON.stringify(s.flash) : null;
    await this.#run(
      (sql) =>
        sql`INSERT INTO sessions (id_hash, token_id, kind, csrf, created, last_used, expires, flash)
            VALUES (${s.idHash}, ${s.tokenId}, ${s.kind}, ${s.csrf}, ${s.created}, ${s.lastUsed}, ${s.expires}, ${flash})`,
      true,
    );
  }

  async get(idHash: string, now: string): Promise<SessionRecord | undefined> {
    const [row] = await this.#run(
      (sql) =>
        sql`SELECT s.id_hash, s.token_id, s.kind, s.csrf, s.created, s.last_used, s.expires, s.flash
            FROM sessions s JOIN tokens t ON t.id = s.token_id
            WHERE s.id_hash = ${idHash} AND s.expires > ${now}`,
      false,
    );
    return row ? sessionOfRow(row as SessionRow) : undefined;
  }

  async touch(idHash: string, lastUsed: string, expires: string): Promise<void> {
    await this.#run(
      (sql) =>
        sql`UPDATE sessions SET last_used = ${lastUsed}, expires = ${expires} WHERE id_hash = ${idHash}`,
      true,
    );
  }

  async setFlash(idHash: string, flash: SessionRecord["flash"]): Promise<void> {
    const json = flash ? JSON.stringify(flash) : null;
    await this.#run((sql) => sql`UPDATE sessions SET flash = ${json} WHERE id_hash = ${idHash}`, true);
  }

  async end(idHash: string): Promise<boolean> {
    const r = await this.#run((sql) => sql`DELETE FROM sessions WHERE id_hash = ${idHash}`, true);
    return Number(r.count ?? 0) > 0;
  }

  async prune(now: string, keep: number): Promise<number> {
    return await this.#run(
      (sql) =>
        sql.begin(async (tx) => {
          const gone = await tx`DELETE FROM sessions
                                WHERE expires <= ${now} OR NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = token_id)`;
          const over = await tx`DELETE FROM sessions WHERE id_hash IN
                                  (SELECT id_hash FROM sessions ORDER BY last_used DESC, created DESC
                                   OFFSET ${Math.max(0, keep)})`;
          return Number(gone.count ?? 0) + Number(over.count ?? 0);
        }) as Promise<number>,
      true,
    );
  }
}
