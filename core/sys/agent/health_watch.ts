/**
 * The health watch after a restart (DESIGN §6): samples the daemon (its PID and restarts from the service,
 * the readiness probe's answer) until core/agent/health.ts's verdict is known or the wait is over. Used by
 * the update pass and by `enable` after systemd started the daemon.
 */
import {
  type AgentSpec,
  DEFAULT_HEALTH_POLICY,
  type HealthSample,
  type HealthVerdict,
  judgeHealth,
} from "../../agent/mod.ts";
import type { ProbePort } from "./ports.ts";
import type { ServiceBackend } from "./service.ts";

export interface HealthWatch {
  service: ServiceBackend;
  probe: ProbePort;
  spec: Pick<AgentSpec, "healthWaitMs" | "healthUrl" | "healthCmd" | "healthTimeoutMs">;
  /** Stopping the agent ends the watch without a verdict (`pending`). */
  signal?: AbortSignal;
}

/** Sleeps `ms`, or less when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Watches the daemon: the verdict and how long it took (`pending` only when the agent is stopping). */
export async function watchHealth(w: HealthWatch): Promise<HealthVerdict & { ms: number }> {
  const started = Date.now();
  const wait = w.spec.healthWaitMs;
  const pollMs = Math.min(1000, Math.max(100, Math.floor(wait / 5)));
  const policy = {
    ...DEFAULT_HEALTH_POLICY,
    stablePolls: wait >= 2 * pollMs ? DEFAULT_HEALTH_POLICY.stablePolls : 1,
  };
  const samples: HealthSample[] = [];
  for (;;) {
    const s = await w.service.sample();
    const at = Date.now() - started;
    // The readiness probe runs at every poll once the daemon has a PID; its last answer counts.
    const p = s.pid !== 0 ? await w.probe.health(w.spec) : undefined;
    samples.push({ at, pid: s.pid, restarts: s.restarts, ...(p ? { probe: p } : {}) });
    const v = judgeHealth(samples, policy, at >= wait);
    if (v.state !== "pending") return { ...v, ms: Date.now() - started };
    await sleep(pollMs, w.signal);
    // Stopping is no verdict about the release: the caller leaves the intent for recovery to settle.
    if (w.signal?.aborted)
      return { state: "pending", detail: "the agent is stopping", ms: Date.now() - started };
  }
}
