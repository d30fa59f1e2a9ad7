/**
 * The stored rollout as this server holds it, with the generation it was read at or written as. Replicas
 * (issue 15): every write is a compare-and-swap on that generation (`Store.casRollout`, events in the same
 * transaction): a write over a rollout another replica moved is refused, and the rollout is read again and
 * the change decided again over it, never overwriting.
 */
import type { Rollout, RolloutEvent } from "../core/rollout/types.ts";
import { logEvents, storedEvents } from "./rollout_writes.ts";
import type { Store } from "./store.ts";

/** A write the rollout refused this many times in a row (other replicas writing): given up. */
export const CAS_TRIES = 5;

/** A change of the rollout: the next one (undefined: none) and the events that say why. */
export interface RolloutChange {
  next: Rollout | undefined;
  events: RolloutEvent[];
}

export class RolloutRecord {
  readonly #store: Store;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Told whenever the rollout held changes (the find answers are computed again). */
  readonly #changed: () => void;
  #rollout: Rollout | undefined;
  /** The stored rollout's generation this one was read at or written as (0: none stored yet). */
  #generation = 0;

  constructor(
    store: Store,
    log: (msg: string, fields?: Record<string, unknown>) => void,
    changed: () => void,
  ) {
    this.#store = store;
    this.#log = log;
    this.#changed = changed;
  }

  /** The rollout held (undefined: none). */
  get current(): Rollout | undefined {
    return this.#rollout;
  }

  /** Reads the stored rollout and its generation (what another replica wrote, or a refused write's winner). */
  async read(): Promise<boolean> {
    const st = await this.#store.getRolloutState();
    const generation = st?.generation ?? 0;
    if (generation === this.#generation) return false;
    this.#rollout = (st?.value ?? undefined) as Rollout | undefined;
    this.#generation = generation;
    this.#changed();
    return true;
  }

  /**
   * Stores `next` with its events over the generation held (one transaction), then holds it. False: another
   * replica wrote first, nothing was written. Stored first: when the store refuses, the rollout does not move
   * (answers stay what is stored).
   */
  async write(next: Rollout | undefined, events: RolloutEvent[]): Promise<boolean> {
    const ok = await this.#store.casRollout(this.#generation, next ?? null, storedEvents(events));
    if (!ok) return false;
    this.#rollout = next;
    this.#generation++;
    this.#changed();
    logEvents(this.#log, events);
    return true;
  }

  /**
   * Writes the change `decide` makes over the rollout held (undefined: nothing to write). Refused (another
   * replica wrote since): read again and decided again over what it wrote, up to CAS_TRIES times. False when
   * it kept being refused (nothing of this change written).
   */
  async update(decide: (rollout: Rollout | undefined) => RolloutChange | undefined): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      const change = decide(this.#rollout);
      if (!change || (await this.write(change.next, change.events))) return true;
      await this.read();
      if (tries >= CAS_TRIES) return false;
    }
  }
}
