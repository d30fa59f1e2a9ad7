/** The Store contract's fixtures (store_contract.ts): the backends' factory, records, the stores a test opens. */
import { afterEach } from "bun:test";
import type { AgentRecord, RolloutEvent, SessionRecord, Store, TokenRecord } from "./store.ts";

/** A store as the suite opens it (the backends add their batch counters). */
export type ContractStore = Store & { reportBatches(): { batches: number; reports: number } };

export interface StoreFactory {
  /**
   * A new empty database; answers how to open a store on it. Opening twice gives two stores on the same
   * database (two replicas, or a second process after a crash).
   */
  fresh(): Promise<() => Promise<ContractStore>>;
  /** Stores on one database hear each other's writes through `subscribe` (PostgreSQL). */
  sharedNotifications: boolean;
  /** Why the suite cannot run here (it is skipped), or undefined. */
  skip?: string | undefined;
}

export const T0 = "2026-11-23T08:30:00.000Z";
export const at = (minutes: number): string => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

export const agent = (id: string, o: Partial<AgentRecord> = {}): AgentRecord => ({
  updater_id: id,
  hostname: `${id}.local`,
  group: "prod",
  version: "16.4.0",
  state: "ok",
  last_seen: T0,
  ...o,
});

/** A session opened at minute `n` with token `tokenId`, ending an hour later unless used. */
export const session = (idHash: string, n: number, o: Partial<SessionRecord> = {}): SessionRecord => ({
  idHash,
  tokenId: "tok-admin",
  kind: "admin",
  csrf: `csrf-${idHash}`,
  created: at(n),
  lastUsed: at(n),
  expires: at(n + 60),
  ...o,
});

export const sessionToken = (id: string, kind: TokenRecord["kind"] = "admin"): TokenRecord => ({
  id,
  kind,
  hash: `hash-${id}`,
  name: id,
  created: T0,
});

export const event = (n: number, group = "canary"): RolloutEvent => ({
  time: at(n),
  group,
  from: "unstarted",
  to: "active",
  reason: `step ${n}`,
});

/** Waits until `check` holds (notifications arrive asynchronously on PostgreSQL); generous bound. */
export async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return;
    await Bun.sleep(10);
  }
}

/** A store on a fresh database, and how to open another on the same one. */
export type Fresh = () => Promise<{ s: ContractStore; another: () => Promise<ContractStore> }>;

/** `fresh` for the tests of one suite: every store it opened is closed after each test. */
export function freshStores(factory: StoreFactory): Fresh {
  const opened: ContractStore[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  return async () => {
    const open = await factory.fresh();
    const another = async () => {
      const s = await open();
      opened.push(s);
      return s;
    };
    return { s: await another(), another };
  };
}
