/**
 * One replica among several on a shared store (issue 15): what keeps its state in step with the others,
 * and what it does while the database is away.
 *
 * - Changes: every write on any replica is notified (`Store.subscribe`: PostgreSQL LISTEN/NOTIFY); what it
 *   names is re-read at once (RolloutService.refresh, tokens). Notifications can be missed (a dropped
 *   connection), so everything is also re-read every `rereadMs` (5 s), and at once when the database is back.
 * - Reports other replicas received: counted every `agentsMs` (1 s, Fleet.sync).
 * - The lease: the replica that takes it re-reads everything, then reconciles (the one before may have died
 *   between a change and its reconcile).
 * - The database away: find/ping keep answering from the state held (nothing held is dropped or changed
 *   because a read failed: agents are never told to update or downgrade because of it), writes answer 503
 *   (the store throws StoreUnavailableError), this replica's reads of the store are retried with a growing
 *   delay (0.5 s, doubling, at most `maxBackoffMs`) and log nothing (the store logs once when it goes and
 *   once when it is back); back, everything is re-read at once.
 */
import type { LogFn } from "./log.ts";
import type { RolloutService } from "./rollout_service.ts";
import type { Store, StoreHealth } from "./store.ts";
import type { TokenChecker } from "./tokens.ts";

export interface ReplicaOptions {
  store: Store;
  rollout: RolloutService;
  tokens: TokenChecker;
  log: LogFn;
  /** Whether this replica holds the reconciler lease, and when that changes. */
  lease: { held(): boolean; onChange(cb: (held: boolean) => void): () => void };
  /** Re-read everything this often, whatever was notified (ms). Default 5000. */
  rereadMs?: number;
  /** Count the reports other replicas received this often (ms). Default 1000. */
  agentsMs?: number;
  /** Look at the store's health this often (ms). Default 500. */
  healthMs?: number;
  /** The longest wait between two tries while the store fails (ms). Default 5000. */
  maxBackoffMs?: number;
  /** Milliseconds now (monotonic). */
  clock?: () => number;
}

export class Replica {
  readonly #o: Required<ReplicaOptions>;
  /** What notifications named since the last refresh ("all": everything). */
  #pending: "all" | Set<string> = new Set();
  #refreshing: Promise<void> | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopLease: () => void = () => {};
  /** Store reads that failed in a row; the next try waits `#backoff()`. */
  #failures = 0;
  #nextTry = 0;
  /** Whether the store was up at the last look. */
  #up = true;
  #closed = false;
  /** The lease was just taken: reconcile once the state is re-read. */
  #tookLease = false;

  private constructor(o: ReplicaOptions) {
    this.#o = {
      rereadMs: 5000,
      agentsMs: 1000,
      healthMs: 500,
      maxBackoffMs: 5000,
      clock: () => performance.now(),
      ...o,
    };
  }

  /** Subscribes to the store's changes and starts the timers. */
  static async start(o: ReplicaOptions): Promise<Replica> {
    const r = new Replica(o);
    await r.#subscribe();
    r.#stopLease = o.lease.onChange((held) => {
      // Taken: what the previous holder left is read first, then reconciled.
      if (held) {
        r.#tookLease = true;
        r.#changed("all");
      }
    });
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref?.();
      r.#timers.push(t);
    };
    every(r.#o.rereadMs, () => r.#changed("all"));
    every(r.#o.agentsMs, () => void r.#syncAgents());
    every(r.#o.healthMs, () => r.#watchHealth());
    return r;
  }

  /** Health of the store as the replica sees it (the store's own word). */
  health(): StoreHealth {
    return this.#o.store.health();
  }

  /** Listens for every replica's changes (the store listens again after a dropped connection, and says "*"). */
  async #subscribe(): Promise<void> {
    this.#unsubscribe = await this.#o.store.subscribe((what) => this.#changed(what));
  }

  /**
   * A change was notified (or is presumed: "all"; "*" from the store: notifications may have been missed):
   * re-read it, after the refresh under way.
   */
  #changed(what: string): void {
    if (this.#closed) return;
    if (what === "all" || what === "*") this.#pending = "all";
    else if (this.#pending !== "all") this.#pending.add(what);
    void this.#refresh();
  }

  #refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshLoop().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshLoop(): Promise<void> {
    while (!this.#closed && (this.#pending === "all" || this.#pending.size > 0)) {
      if (this.#o.clock() < this.#nextTry) return this.#retryLater();
      const what = this.#pending;
      this.#pending = new Set();
      if (what === "all" || what.has("tokens")) this.#o.tokens.invalidate();
      try {
        await this.#o.rollout.refresh(what);
        if (this.#tookLease) {
          await this.#o.rollout.reconcile();
          this.#tookLease = false;
        }
        this.#succeeded();
      } catch (e) {
        // Kept for the next try: nothing held changes until the store answers.
        const since = this.#pending as "all" | Set<string>;
        this.#pending = what === "all" || since === "all" ? "all" : new Set([...what, ...since]);
        this.#failed(e);
      }
    }
  }

  /** One try when the backoff is over (the timers would try too, but maybe later). */
  #retryLater(): void {
    if (this.#retry !== undefined || this.#closed) return;
    const wait = Math.max(0, this.#nextTry - this.#o.clock());
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#refresh();
    }, wait);
    this.#retry.unref?.();
  }

  async #syncAgents(): Promise<void> {
    if (this.#o.clock() < this.#nextTry) return;
    try {
      await this.#o.rollout.syncAgents();
      this.#succeeded();
    } catch (e) {
      this.#failed(e);
    }
  }

  #succeeded(): void {
    this.#failures = 0;
    this.#nextTry = 0;
  }

  #failed(_e: unknown): void {
    this.#failures++;
    this.#nextTry = this.#o.clock() + Math.min(this.#o.maxBackoffMs, 250 * 2 ** this.#failures);
  }

  /** The store back after being away: everything is re-read at once (what was missed meanwhile). */
  #watchHealth(): void {
    const { ok } = this.#o.store.health();
    if (ok === this.#up) return;
    this.#up = ok;
    if (!ok) return;
    this.#succeeded();
    this.#changed("all");
  }

  /** Stops the timers and the subscription (waits for a refresh under way). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#stopLease();
    await this.#refreshing?.catch(() => {});
    await this.#unsubscribe?.().catch(() => {});
  }
}
