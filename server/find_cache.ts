/**
 * The find/ping answers, precomputed per group so the hot path does no work but a map lookup: one body for
 * every agent of a group, and one per canary. Answers that depend on the clock (windows) are recomputed every
 * minute; every other change calls `invalidate`. Each answer served is counted under what it said (group,
 * canary or not, version, should-update), for /metrics.
 */
import type { FindBody } from "../core/wire/mod.ts";

/** A group's answers: for any agent, and for each canary (by updater id). */
export interface GroupAnswers {
  all: FindBody;
  canaries: [updaterId: string, body: FindBody][];
}

/** How many answers saying the same thing were served since start. */
export interface FindCount {
  labels: { group: string; canary: "true" | "false"; version: string; should_update: string };
  n: number;
}

interface Answer {
  text: string;
  count: FindCount;
}

interface CachedGroup {
  all: Answer;
  canaries: Map<string, Answer>;
  /** Recompute at this instant (ms). */
  validUntil: number;
}

export class FindCache {
  readonly #compute: (group: string, now: number) => GroupAnswers;
  readonly #groups = new Map<string, CachedGroup>();
  readonly #counts = new Map<string, FindCount>();

  /** `compute` answers for a group (already resolved to a configured one) at `now`; it never throws. */
  constructor(compute: (group: string, now: number) => GroupAnswers) {
    this.#compute = compute;
  }

  /** The JSON body for an agent of `group` (resolved) with `updaterId` (`""`: none), counted as served. */
  body(group: string, updaterId: string, now: number): string {
    let cached = this.#groups.get(group);
    if (!cached || now >= cached.validUntil) {
      cached = this.#fill(group, now);
      this.#groups.set(group, cached);
    }
    const answer = (updaterId ? cached.canaries.get(updaterId) : undefined) ?? cached.all;
    answer.count.n++;
    return answer.text;
  }

  invalidate(): void {
    this.#groups.clear();
  }

  /** Every count so far (some may be 0), in the order their answers were first computed. */
  counts(): readonly FindCount[] {
    return [...this.#counts.values()];
  }

  #fill(group: string, now: number): CachedGroup {
    const answers = this.#compute(group, now);
    return {
      all: this.#answer(group, false, answers.all),
      canaries: new Map(answers.canaries.map(([id, body]) => [id, this.#answer(group, true, body)])),
      validUntil: Math.floor(now / 60_000) * 60_000 + 60_000,
    };
  }

  #answer(group: string, canary: boolean, body: FindBody): Answer {
    const labels = {
      group,
      canary: canary ? ("true" as const) : ("false" as const),
      version: body.auto_update.agent_version,
      should_update: String(body.auto_update.agent_auto_update),
    };
    const key = JSON.stringify(labels);
    let count = this.#counts.get(key);
    if (!count) {
      count = { labels, n: 0 };
      this.#counts.set(key, count);
    }
    return { text: JSON.stringify(body), count };
  }
}
