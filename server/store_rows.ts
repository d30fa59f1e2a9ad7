/**
 * Rows of the stores' tables as both backends read them back (sqlite_agents.ts and pg_agents.ts,
 * sqlite_sessions.ts and pg_sessions.ts): one mapping to the records, so both answer the same.
 */
import type { AgentRecord, SessionRecord } from "./store.ts";

/** An `agents` row as selected (`grp AS "group"`): the optional fields are NULL when absent. */
export type AgentRow = AgentRecord & {
  error: string | null;
  failed_version: string | null;
  updater_version: string | null;
  updater_failed_version: string | null;
};

/** A row as the report that made it: its fields in the report's order, absent ones left out. */
export function agentOfRow(r: AgentRow): AgentRecord {
  return {
    updater_id: r.updater_id,
    hostname: r.hostname,
    group: r.group,
    version: r.version,
    state: r.state,
    ...(r.error === null ? {} : { error: r.error }),
    ...(r.failed_version === null ? {} : { failed_version: r.failed_version }),
    ...(r.updater_version === null ? {} : { updater_version: r.updater_version }),
    ...(r.updater_failed_version === null ? {} : { updater_failed_version: r.updater_failed_version }),
    last_seen: r.last_seen,
  };
}

/**
 * A LIKE pattern (ESCAPE '\\', backslash is LIKE's escape character) matching what starts with `prefix`.
 * ASCII letters in any case: SQLite's LIKE folds ASCII case, and answers a prefix from the NOCASE index on
 * hostname (its migration 5); PostgreSQL compares both sides lowered.
 */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A `sessions` row: `flash` is the JSON of the message, or NULL. */
export interface SessionRow {
  id_hash: string;
  token_id: string;
  kind: SessionRecord["kind"];
  csrf: string;
  created: string;
  last_used: string;
  expires: string;
  flash: string | null;
}

export function sessionOfRow(r: SessionRow): SessionRecord {
  return {
    idHash: r.id_hash,
    tokenId: r.token_id,
    kind: r.kind,
    csrf: r.csrf,
    created: r.created,
    lastUsed: r.last_used,
    expires: r.expires,
    ...(r.flash === null ? {} : { flash: JSON.parse(r.flash) as NonNullable<SessionRecord["flash"]> }),
  };
}
