/**
 * The `agent run` loop's jitter wait (up to the server's agent_update_jitter_seconds, 86,400 s): a pass
 * waits here holding the namespace lock, so anything an operator asks for meanwhile (`agent update --now`,
 * `pin`, `rollback`, SIGUSR1) would queue behind it for hours. While such a request is pending, a wait in
 * progress ends at once and a new one does not start: the pass ends unchanged, and the request's own pass
 * (which asks the server again: the answer the wait began with may be hours old) runs right after.
 * `agent update` without --now is answered with the wait in progress instead (see `onWait`).
 */
import type { JitterEnd, JitterWait } from "./updater.ts";

export class JitterGate {
  #current: { wait: JitterWait; end: (r: JitterEnd) => void } | undefined;
  /** Why waits are cut short now: one entry per pending request. */
  #preempting: string[] = [];
  #listeners = new Set<(w: JitterWait) => void>();

  /** The wait in progress, if any. */
  get waiting(): JitterWait | undefined {
    return this.#current?.wait;
  }

  /** The waiter for `PassOptions.waitJitter`. */
  wait = (w: JitterWait, signal?: AbortSignal): Promise<JitterEnd> => {
    if (signal?.aborted) return Promise.resolve({ go: false, why: "stopped during the jitter" });
    const why = this.#preempting[0];
    if (why !== undefined) return Promise.resolve({ go: false, why: cutShort(w, why) });
    return new Promise<JitterEnd>((resolve) => {
      const onAbort = () => end({ go: false, why: "stopped during the jitter" });
      const timer = setTimeout(() => end({ go: true }), Math.max(0, w.ms));
      const end = (r: JitterEnd) => {
        if (this.#current?.end !== end) return;
        this.#current = undefined;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#current = { wait: w, end };
      for (const l of this.#listeners) l(w);
    });
  };

  /**
   * A request that must not wait behind a jitter (`why`, e.g. "`agent update --now`"): ends the wait in
   * progress and any that starts until the returned function is called (when the request is done).
   */
  preempt(why: string): () => void {
    this.#preempting.push(why);
    const c = this.#current;
    if (c) c.end({ go: false, why: cutShort(c.wait, why) });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const i = this.#preempting.indexOf(why);
      if (i >= 0) this.#preempting.splice(i, 1);
    };
  }

  /** Calls `fn` when a wait starts (and at once for the one in progress); returns the unsubscribe. */
  onWait(fn: (w: JitterWait) => void): () => void {
    this.#listeners.add(fn);
    const c = this.#current;
    if (c) fn(c.wait);
    return () => {
      this.#listeners.delete(fn);
    };
  }
}

function cutShort(w: JitterWait, why: string): string {
  return `the jitter wait before updating to ${w.to} was cut short by ${why}`;
}

/** What `agent update` (without --now) answers while the loop waits out a jitter. */
export function waitingMessage(w: JitterWait, nowMs: number): string {
  const left = Math.max(0, Math.ceil((w.until.getTime() - nowMs) / 1000));
  return `the agent run loop waits ${left}s more of jitter (until ${w.until.toISOString()}) before updating ${w.from || "nothing"} to ${w.to}; \`upkeep agent update --now\` updates at once`;
}
