/**
 * Who runs the reconciler (and pruning): with several replicas on one PostgreSQL, exactly one at a time, the
 * one holding the lease (server/pg_lease.ts: an advisory lock on a session of its own). A server alone on
 * its SQLite data dir (serve.lock already makes it the only one) always holds it (`soleLease`).
 *
 * The lease decides who tries; it does not by itself make a write safe: a replica can lose the lease between
 * its check and its write. The rollout is written with compare-and-swap on its generation
 * (`Store.casRollout`), so such a write is refused and the replica re-reads instead of overwriting.
 */

export interface Lease {
  /** True while this process holds the lease (as of its last check). */
  held(): boolean;
  /** Calls `cb` with the new value each time `held()` changes. Answers how to stop being told. */
  onChange(cb: (held: boolean) => void): () => void;
  /** Gives the lease up (another replica can take it at once) and stops trying. */
  close(): Promise<void>;
}

/** The lease of a server that is alone: always held. */
export const soleLease: Lease = {
  held: () => true,
  onChange: () => () => {},
  close: async () => {},
};

/** A lease whose holder is set by hand: for tests, and as the listener list of real leases. */
export class ManualLease implements Lease {
  #held: boolean;
  readonly #listeners = new Set<(held: boolean) => void>();

  constructor(held = false) {
    this.#held = held;
  }

  held(): boolean {
    return this.#held;
  }

  /** Sets the holder; listeners are told only of a change. */
  set(held: boolean): void {
    if (held === this.#held) return;
    this.#held = held;
    for (const cb of [...this.#listeners]) cb(held);
  }

  onChange(cb: (held: boolean) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  async close(): Promise<void> {
    this.set(false);
    this.#listeners.clear();
  }
}
