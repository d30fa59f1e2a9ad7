/**
 * The server's persistent state, behind one interface so another backend (PostgreSQL) can be added without
 * touching routes. Values are plain JSON data; the store does not interpret resources.
 */
import { UpkeepError } from "../core/errors.ts";
import type { ReceivedReport, ResourceKind } from "../core/wire/mod.ts";
/** admin: everything; viewer: status reads only; agent: reports only. */
export type TokenKind = "admin" | "viewer" | "agent";
export const TOKEN_KINDS: readonly TokenKind[] = ["admin", "viewer", "agent"];

/**
 * The store can no longer keep what it is given (its database file was removed or replaced, or refuses
 * writes): the server answers 503 to writes and keeps answering reads from what it holds.
 */
export class StoreUnavailableError extends UpkeepError {
  /** The database concerned: its file (SQLite), or its URL with the password masked (PostgreSQL). */
  readonly file: string;
  constructor(file: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super("E_IO", message, options);
    this.name = "StoreUnavailableError";
    this.file = file;
  }
}

export interface TokenRecord {
  id: string;
  kind: TokenKind;
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  name: string;
  created: string;
}

/** An agent's last report (core/wire's `parseReport`), and when it came. */
export type AgentRecord = ReceivedReport & {
  /** ISO time of the last report. */
  last_seen: string;
};

/** Which agents `GET /v1/agents` lists: one page, by updater id, filtered. */
export interface AgentQuery {
  /** At most this many agents. */
  limit: number;
  /** Agents after this updater id (where the page before ended). */
  after?: string;
  /** Agents counted in a group: that reported `is`, or (the last group) that reported none of `notIn`. */
  group?: { is: string } | { notIn: string[] };
  version?: string;
  state?: string;
  /** Host names starting with this (case-sensitive). */
  hostnamePrefix?: string;
  /** Last seen at or after this ISO time (present agents). */
  seenSince?: string;
  /** Last seen before this ISO time (agents that no longer count). */
  seenBefore?: string;
}

export interface AgentPage {
  agents: AgentRecord[];
  /** How many agents the query's filters match in all (every page). */
  total: number;
  /** More agents after this page. */
  more: boolean;
}

export interface ReleaseArtifact {
  name: string;
  size: number;
  sha256: string;
  uploaded: string;
}

export interface RolloutEvent {
  time: string;
  group: string;
  from: string;
  to: string;
  reason: string;
}

/** The rollout document and its generation: +1 at every write, 0 when none was ever written. */
export interface RolloutState {
  /** The document (undefined for a cleared rollout). */
  value: unknown;
  generation: number;
}

/** Whether the store can be used now (PostgreSQL: the database answers; SQLite: its file is still in place). */
export interface StoreHealth {
  ok: boolean;
  /** Why not, when not. */
  reason?: string;
  /** ISO time since when it is in this state (set when not ok). */
  since?: string;
}

/**
 * What a write changed, as told to `subscribe` listeners: "resource:KIND", "setting:KEY", "rollout"
 * (document or events), "tokens", "artifacts". Reports (agents) are not told: they are too many.
 */
export type StoreChange = string;

export interface Store {
  /**
   * Throws StoreUnavailableError when a write would not be kept (checked before every write, and by the
   * routes before they accept a body).
   */
  assertWritable(): void;

  getResource(kind: ResourceKind): Promise<unknown | undefined>;
  putResource(kind: ResourceKind, value: unknown): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  putSetting(key: string, value: string): Promise<void>;

  /** The rollout's group states, as one JSON document (the reconciler owns its shape). */
  getRollout(): Promise<unknown | undefined>;
  /** Writes the rollout whatever its generation (which moves up by one). */
  putRollout(value: unknown): Promise<void>;
  /** The rollout and its generation, or undefined when none was ever written. */
  getRolloutState(): Promise<RolloutState | undefined>;
  /**
   * Compare-and-swap, in one transaction: when the stored generation is `expectedGeneration` (0: none yet),
   * writes `value` with generation + 1 and appends `events`, and answers true; otherwise writes nothing and
   * answers false (another writer moved it: a replica that lost its lease).
   */
  casRollout(expectedGeneration: number, value: unknown, events: RolloutEvent[]): Promise<boolean>;
  appendEvents(events: RolloutEvent[]): Promise<void>;
  listEvents(limit: number): Promise<RolloutEvent[]>;

  /**
   * Stores an agent's report. Reports may be written in batches (one transaction for many): the promise
   * resolves only once this report is committed, so a report acknowledged after it survives a crash.
   */
  upsertAgent(agent: AgentRecord): Promise<void>;
  /** Every agent, or those seen at or after `seenSince` (ISO), oldest report first. */
  listAgents(o?: { seenSince?: string }): Promise<AgentRecord[]>;
  /** One page of agents (filtered by the store, ordered by updater id) and how many match in all. */
  queryAgents(q: AgentQuery): Promise<AgentPage>;
  /** Deletes up to `limit` agents last seen before `before` (ISO); answers how many were deleted. */
  pruneAgents(before: string, limit: number): Promise<number>;

  addToken(token: TokenRecord): Promise<void>;
  listTokens(kind: TokenKind): Promise<TokenRecord[]>;
  /** Removes tokens by id; answers how many were removed. */
  removeTokens(ids: string[]): Promise<number>;

  putArtifact(artifact: ReleaseArtifact): Promise<void>;
  listArtifacts(): Promise<ReleaseArtifact[]>;
  getArtifact(name: string): Promise<ReleaseArtifact | undefined>;

  /**
   * Calls `onChange` after each committed write (see StoreChange). PostgreSQL: every replica's writes
   * (LISTEN upkeep_changes); SQLite: this process's own writes. Answers how to stop listening.
   */
  subscribe(onChange: (what: StoreChange) => void): Promise<() => Promise<void>>;

  /** Whether the store answers now (for /healthz and logs). */
  health(): StoreHealth;

  /** Writes what is pending (a batch of reports) and closes. */
  close(): void | Promise<void>;
}
