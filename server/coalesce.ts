/**
 * Runs a task when asked, but at most once per `gapMs`: the first request after a quiet spell runs it at
 * once (the caller may wait for it), later ones within the gap are folded into one run at the gap's end.
 * Any run, however started (a timer, an operator's read), covers every request made before it began
 * (`started`); only the runs requests start count toward the gap.
 */
export class Coalesce {
  readonly #run: () => Promise<void>;
  readonly #gapMs: number;
  readonly #onError: (e: unknown) => void;
  readonly #clock: () => number;
  #last = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Runs started by a request (inline or at a gap's end), for tests and /metrics. */
  runs = 0;

  constructor(
    run: () => Promise<void>,
    o: { gapMs: number; onError: (e: unknown) => void; clock?: () => number },
  ) {
    this.#run = run;
    this.#gapMs = o.gapMs;
    this.#onError = o.onError;
    this.#clock = o.clock ?? (() => performance.now());
  }

  /**
   * Asks for a run. Quiet for `gapMs`: runs now (the promise is that run). Else one run at the gap's end
   * (the promise resolves at once; a failure of that run goes to `onError`).
   */
  request(): Promise<void> {
    if (this.#timer !== undefined) return Promise.resolve();
    const wait = this.#last + this.#gapMs - this.#clock();
    if (wait <= 0) {
      this.#last = this.#clock();
      this.runs++;
      return this.#run();
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#last = this.#clock();
      this.runs++;
      this.#run().catch(this.#onError);
    }, wait);
    this.#timer.unref?.();
    return Promise.resolve();
  }

  /** Tells that a run begins (whoever started it): it covers every request so far. */
  started(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
