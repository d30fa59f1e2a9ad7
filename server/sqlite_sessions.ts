/**
 * The `sessions` table of the SQLite store (its migration 6): dashboard login sessions, by the sha256 of their
 * id, with the token they were opened with (a session whose token was removed is not answered, and is
 * pruned). The rules (how long a session lives, how often its use is written) are server/dashboard's.
 */
import type { Database } from "bun:sqlite";
import type { SessionRecord } from "./store.ts";
import { type SessionRow, sessionOfRow } from "./store_rows.ts";

export class SqliteSessionTable {
  readonly #db: Database;
  /** The store's write wrapper (the file still ours; a refused write is a StoreUnavailableError). */
  readonly #write: <T>(fn: () => T) => T;

  constructor(db: Database, write: <T>(fn: () => T) => T) {
    this.#db = db;
    this.#write = write;
  }

  add(s: SessionRecord): void {
    this.#write(() =>
      this.#db
        .query(
          `INSERT INTO sessions (id_hash, token_id, kind, csrf, created, last_used, expires, flash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          s.idHash,
          s.tokenId,
          s.kind,
          s.csrf,
          s.created,
          s.lastUsed,
          s.expires,
          s.flash ? JSON.stringify(s.flash) : null,
        ),
    );
  }

  get(idHash: string, now: string): SessionRecord | undefined {
    const row = this.#db
      .query(
        `SELECT s.* FROM sessions s JOIN tokens t ON t.id = s.token_id
         WHERE s.id_hash = ? AND s.expires > ?`,
      )
      .get(idHash, now) as SessionRow | null;
    return row ? sessionOfRow(row) : undefined;
  }

  touch(idHash: string, lastUsed: string, expires: string): void {
    this.#write(() =>
      this.#db
        .query("UPDATE sessions SET last_used = ?, expires = ? WHERE id_hash = ?")
        .run(lastUsed, expires, idHash),
    );
  }

  setFlash(idHash: string, flash: SessionRecord["flash"]): void {
    this.#write(() =>
      this.#db
        .query("UPDATE sessions SET flash = ? WHERE id_hash = ?")
        .run(flash ? JSON.stringify(flash) : null, idHash),
    );
  }

  end(idHash: string): boolean {
    return this.#write(
      () => this.#db.query("DELETE FROM sessions WHERE id_hash = ?").run(idHash).changes > 0,
    );
  }

  prune(now: string, keep: number): number {
    return this.#write(() =>
      this.#db.transaction(() => {
        let n = this.#db
          .query("DELETE FROM sessions WHERE expires <= ? OR token_id NOT IN (SELECT id FROM tokens)")
          .run(now).changes;
        n += this.#db
          .query(
            `DELETE FROM sessions WHERE id_hash IN
               (SELECT id_hash FROM sessions ORDER BY last_used DESC, created DESC LIMIT -1 OFFSET ?)`,
          )
          .run(Math.max(0, keep)).changes;
        return n;
      })(),
    );
  }
}
