/**
 * The reconciler lease of replicas on PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a
 * connection of its own that does nothing else, so the lock lives exactly as long as that session. A replica
 * killed (kill -9, a crash) loses its session, PostgreSQL releases the lock at once, and the next replica to
 * try (every `everyMs`, 2 s) takes it: a handover within a few seconds. A holder that stops checking while
 * its connection stays open (frozen, SIGSTOP, its host gone without a word, a network partition) is cut off
 * by PostgreSQL itself: the session sets `idle_session_timeout` to 3 x `everyMs` (PostgreSQL 14+), so a
 * session silent for 6 s is closed and its lock released.
 *
 * The holder checks every `everyMs` that its session still holds the lock (pg_locks): Bun's client
 * reconnects on its own after a dropped connection, and a new session holds nothing. A dropped session is
 * also seen at once (`onclose`), and a check that does not answer within `timeoutMs` (a hung database)
 * counts as a loss: the connection is dropped so the lock goes with it.
 */
import { SQL } from "bun";
import { type Lease, ManualLease } from "./lease.ts";
import type { LogFn } from "./log.ts";

/** The advisory lock's two int4 keys: "upke" and 1 (the reconciler). Nothing else uses these keys. */
export const LEASE_KEYS = [0x75706b65, 1] as const;

export interface PgLeaseOptions {
  url: string;
  /** How often a replica without the lease tries to take it, and the holder checks it (ms). Default 2000. */
  everyMs?: number;
  /** A check not answered within this long counts as a loss (ms). Default 5000. */
  timeoutMs?: number;
  log: LogFn;
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class PgLease implements Lease {
  readonly #o: Required<PgLeaseOptions>;
  readonly #state = new ManualLease(false);
  #sql: SQL;
  /** Moves on each closed session: a check that saw it move cannot tell which session answered. */
  #epoch = 0;
  #checking: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Tries once (a replica alone holds the lease when this resolves), then keeps trying and checking. */
  static async start(o: PgLeaseOptions): Promise<PgLease> {
    const lease = new PgLease(o);
    await lease.check();
    if (!lease.held())
      o.log("another replica runs the rollout reconciler: this one takes over if that one stops");
    lease.#timer = setInterval(() => void lease.check(), lease.#o.everyMs);
    lease.#timer.unref?.();
    return lease;
  }

  private constructor(o: PgLeaseOptions) {
    this.#o = { everyMs: 2000, timeoutMs: 5000, ...o };
    this.#sql = this.#connect();
  }

  #connect(): SQL {
    return new SQL(this.#o.url, {
      max: 1,
      idleTimeout: 0,
      maxLifetime: 0,
      connectionTimeout: Math.max(1, Math.ceil(this.#o.timeoutMs / 1000)),
      onclose: (e) => {
        this.#epoch++;
        this.#lose(`its database session closed${e ? ` (${e.message})` : ""}`);
      },
    });
  }

  held(): boolean {
    return this.#state.held();
  }

  onChange(cb: (held: boolean) => void): () => void {
    return this.#state.onChange(cb);
  }

  /** Takes the lease when free, or checks it is still held; one check at a time. */
  check(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#checking ??= this.#checkOnce().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #checkOnce(): Promise<void> {
    const epoch = this.#epoch;
    const sql = this.#sql;
    const [k1, k2] = LEASE_KEYS;
    try {
      const holds = this.held()
        ? withTimeout(
            sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
                  AND pid = pg_backend_pid() AND classid = ${k1} AND objid = ${k2} AND objsubid = 2`.then(
              (rows: { n: number }[]) => rows[0]?.n === 1,
            ),
            this.#o.timeoutMs,
          )
        : withTimeout(this.#tryLock(sql), this.#o.timeoutMs);
      const now = await holds;
      if (this.#closed) return;
      if (epoch !== this.#epoch) return this.#lose("its database session was replaced during a check");
      if (now) this.#take();
      else this.#lose("its database session no longer holds the lock");
    } catch (e) {
      if (e instanceof Timeout) {
        // A hung session may still hold the lock: drop it, so that PostgreSQL releases it.
        this.#sql = this.#connect();
        void sql.close({ timeout: 0 }).catch(() => {});
      }
      this.#lose(`the database does not answer (${(e as Error).message})`);
    }
  }

  /** Tries the lock on this session, which is first told to close itself when silent (a frozen holder). */
  async #tryLock(sql: SQL): Promise<boolean> {
    const [k1, k2] = LEASE_KEYS;
    const idle = `${3 * this.#o.everyMs}ms`;
    // PostgreSQL before 14 does not know the setting: the lease then holds until the session is closed.
    await sql`SELECT set_config('idle_session_timeout', ${idle}, false)`.catch(() => {});
    const rows = (await sql`SELECT pg_try_advisory_lock(${k1}::int, ${k2}::int) AS ok`) as { ok: boolean }[];
    return rows[0]?.ok === true;
  }

  #take(): void {
    if (this.held() || this.#closed) return;
    this.#state.set(true);
    this.#o.log("reconciler lease taken: this replica runs the rollout reconciler");
  }

  #lose(why: string): void {
    if (!this.held()) return;
    this.#state.set(false);
    this.#o.log(`reconciler lease lost: ${why}; this replica stops reconciling, another one takes over`);
  }

  /** Stops trying and gives the lease up (closing its session releases the lock). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#checking?.catch(() => {});
    this.#closed = true;
    if (this.held()) this.#o.log("reconciler lease released: this replica stops");
    this.#state.set(false);
    await this.#sql.close({ timeout: 1 }).catch(() => {});
  }
}
