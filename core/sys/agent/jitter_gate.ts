/**
 * The `agent run` loop's jitter wait (up to the server's agent_update_jitter_seconds, 86,400 s), taken out
 * of the pass: a pass that would wait records the wait here and ends at once ("waiting"), releasing the
 * namespace lock, so every other command (`agent update --now`, pin, rollback, disable, enable, status)
 * runs meanwhile instead of queueing behind it for hours. When the wait is over the loop runs a pass
 * without jitter, which asks the server again (the answer the wait began with may be hours old) and
 * decides from update.yaml as it is then (pinned, disabled, rolled back...). One wait at a time: passes
 * during a wait (the interval's, `agent update`) keep its end rather than drawing a new one, which
 * would put the update off for ever. `agent update --now` and SIGUSR1 cancel it and update at once.
 */
import type { JitterEnd, JitterWait } from "./pass_options.ts";

export interface JitterGateHooks {
  /** A wait starts (for the log). */
  onStart(w: JitterWait): void;
  /** The wait is over: run a pass without jitter. */
  onOver(w: JitterWait): void;
  /** The clock (ms since the epoch), for the time left. */
  now?: () => number;
}

export class JitterGate {
  #pending: { wait: JitterWait; timer: ReturnType<typeof setTimeout> } | undefined;
  #hooks: JitterGateHooks;

  constructor(hooks: JitterGateHooks) {
    this.#hooks = hooks;
  }

  /** The wait in progress, if any. */
  get waiting(): JitterWait | undefined {
    return this.#pending?.wait;
  }

  /** The waiter for `PassOptions.waitJitter`: starts the wait (or keeps the one in progress), ends the pass. */
  defer = async (w: JitterWait, signal?: AbortSignal): Promise<JitterEnd> => {
    if (signal?.aborted) return { go: false, why: "stopped during the jitter" };
    let p = this.#pending;
    if (!p) {
      const timer = setTimeout(
        () => {
          if (this.#pending?.timer !== timer) return;
          this.#pending = undefined;
          this.#hooks.onOver(w);
        },
        Math.max(0, w.ms),
      );
      p = { wait: w, timer };
      this.#pending = p;
      this.#hooks.onStart(w);
    }
    return { go: false, waiting: true, why: waitingMessage(p.wait, (this.#hooks.now ?? Date.now)()) };
  };

  /** Drops the wait in progress (its pass never runs); returns it, or undefined when there was none. */
  cancel(): JitterWait | undefined {
    const p = this.#pending;
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.#pending = undefined;
    return p.wait;
  }
}

/** What a pass answers (and update.yaml says) while the loop waits out a jitter. */
export function waitingMessage(w: JitterWait, nowMs: number): string {
  const left = Math.max(0, Math.ceil((w.until.getTime() - nowMs) / 1000));
  return `waiting ${left}s more of jitter (until ${w.until.toISOString()}) before updating ${w.from || "nothing"} to ${w.to}; \`upkeep agent update --now\` updates at once`;
}
