import type { AgentReport, Canary } from "./types.ts";

/**
 * Picks up to `count` canaries at random among a group's reporting agents: healthy agents first (an
 * unhealthy host would fail as a canary for reasons of its own), the others only if too few are healthy.
 * Deterministic for a given `random`: candidates are sorted by `updaterId` before a partial Fisher-Yates
 * shuffle. `random` returns numbers in `[0, 1)`, like `Math.random`.
 */
export function chooseCanaries(
  agents: readonly AgentReport[],
  count: number,
  random: () => number,
): Canary[] {
  const byId = [...new Map(agents.map((a) => [a.updaterId, a])).values()].sort((a, b) =>
    a.updaterId < b.updaterId ? -1 : a.updaterId > b.updaterId ? 1 : 0,
  );
  const pools = [byId.filter((a) => a.healthy), byId.filter((a) => !a.healthy)];
  const chosen: Canary[] = [];
  for (const pool of pools) {
    for (let i = 0; i < pool.length && chosen.length < count; i++) {
      const r = random();
      const j =
        i +
        Math.min(
          pool.length - i - 1,
          Math.floor((Number.isFinite(r) ? Math.abs(r) % 1 : 0) * (pool.length - i)),
        );
      const tmp = pool[i] as AgentReport;
      pool[i] = pool[j] as AgentReport;
      pool[j] = tmp;
      const a = pool[i] as AgentReport;
      chosen.push({ updaterId: a.updaterId, hostname: a.hostname, success: false });
    }
  }
  return chosen;
}
