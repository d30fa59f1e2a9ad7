/**
 * Health of the daemon after a restart (DESIGN §6): the process stays up (the same PID over several
 * polls), restarts at most a few times, and the optional readiness probe succeeds. Pure.
 */

export interface HealthSample {
  /** Milliseconds since the watch began. */
  at: number;
  /** PID of the daemon, 0 when not running. */
  pid: number;
  /** Restarts counted by the supervisor since the watch began. */
  restarts: number;
  /** Result of the readiness probe at this poll (undefined: no probe configured). */
  probe?: { ok: boolean; detail: string };
}

export interface HealthPolicy {
  /** Consecutive polls with the same running PID needed. */
  stablePolls: number;
  /** More restarts than this during the watch is a failure. */
  maxRestarts: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { stablePolls: 3, maxRestarts: 0 };

export type HealthVerdict =
  | { state: "healthy"; detail: string }
  | { state: "unhealthy"; detail: string }
  | { state: "pending"; detail: string };

/**
 * Judges the samples so far. Healthy only once the watch time is over (`done`) with a PID that stayed the
 * same over at least `stablePolls` polls; unhealthy as soon as the daemon restarts too often or exits.
 */
export function judgeHealth(
  samples: readonly HealthSample[],
  policy: HealthPolicy,
  done: boolean,
): HealthVerdict {
  const last = samples[samples.length - 1];
  if (!last)
    return done ? { state: "unhealthy", detail: "no health sample taken" } : { state: "pending", detail: "" };
  if (last.restarts > policy.maxRestarts)
    return {
      state: "unhealthy",
      detail: `the daemon exited and was restarted ${last.restarts === 1 ? "once" : `${last.restarts} times`} after the update`,
    };
  let stable = 0;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as HealthSample;
    if (s.pid === 0 || s.pid !== last.pid) break;
    stable++;
  }
  const probeOk = last.probe === undefined || last.probe.ok;
  if (last.pid === 0 && samples.some((x) => x.pid !== 0))
    return { state: "unhealthy", detail: "the daemon exited after the update" };
  if (done && last.pid !== 0 && stable >= policy.stablePolls && probeOk) {
    return {
      state: "healthy",
      detail: `pid ${last.pid} up for ${stable} polls${last.probe ? `, ${last.probe.detail}` : ""}`,
    };
  }
  if (!done) return { state: "pending", detail: "" };
  if (last.pid === 0) return { state: "unhealthy", detail: "the daemon is not running" };
  if (!probeOk) return { state: "unhealthy", detail: `readiness probe failed: ${last.probe?.detail ?? ""}` };
  return { state: "unhealthy", detail: `the daemon did not stay up (pid changed; ${stable} stable polls)` };
}

/** Supervisor restart backoff: 0.5 s doubling to 30 s; back to the start after a minute of uptime. */
export function restartDelayMs(consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  return Math.min(500 * 2 ** (consecutiveFailures - 1), 30_000);
}

/**
 * Does the smoke test's output name `version` as a whole token? `hello v1.2.3` and `1.2.3 (linux)` do;
 * `11.2.3`, `1.2.30`, `1.2.3.4` and the pre-release `1.2.3-rc.1` do not prove 1.2.3. Build metadata after a
 * `+` is ignored, as in comparisons.
 */
export function printsVersion(output: string, version: string): boolean {
  const v = version.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![0-9A-Za-z.])[vV]?${v}(?![0-9A-Za-z]|[.-][0-9A-Za-z])`).test(output);
}
