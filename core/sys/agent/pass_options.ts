/** How a pass is asked for (`agent update [--now]`, `pin`, `rollback`, `enable`, the loop) and its jitter wait. */

export interface PassOptions {
  /** Skip the jitter (`agent update --now`). */
  now?: boolean;
  /**
   * Waits out the jitter. Default: a sleep inside the pass (a one-shot `agent update`, which holds the
   * lock meanwhile); the `agent run` loop waits outside the pass instead (jitter_gate.ts).
   */
  waitJitter?: JitterWaiter;
  /** Install this version whatever the server says (`pin VERSION`, `rollback`, `enable`). */
  force?: string;
  /** Why the version is forced, for messages. */
  forceWhy?: string;
}

/** A jitter wait about to start: from and to, its length, and when it ends. */
export interface JitterWait {
  from: string;
  to: string;
  ms: number;
  until: Date;
}

/**
 * How a jitter wait ended: go on with the update, or end the pass without it: `waiting` when the wait goes
 * on outside the pass (the `agent run` loop's, which runs a pass afterwards), else unchanged (stopping).
 */
export type JitterEnd = { go: true } | { go: false; why: string; waiting?: boolean };

export type JitterWaiter = (w: JitterWait, signal?: AbortSignal) => Promise<JitterEnd>;
