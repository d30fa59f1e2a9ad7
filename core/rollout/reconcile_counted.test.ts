// reconcile over counts a server keeps (`counted`, issue 13) decides exactly what it decides over the list
// of present agents (`agents`), and lists a group's members only when it chooses canaries.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { AutoupdateConfig } from "../resources/types.ts";
import { agent, config, HOUR, MON, SERVER, START, status, TARGET, version } from "./_fixtures_test_util.ts";
import {
  type AgentKind,
  type AgentReport,
  GROUP_STATES,
  type GroupAgents,
  type GroupState,
  type ReconcileInput,
  reconcile,
  resolveGroup,
  seededRandom,
} from "./mod.ts";

const CONFIGS: Record<string, AutoupdateConfig> = {
  halt: config({
    strategy: "halt-on-error",
    schedules: {
      regular: [
        { name: "stage", days: ["*"], start_hour: 9, canary_count: 2 },
        { name: "prod", days: ["*"], start_hour: 9, wait_hours: 0 },
      ],
    },
  }),
  plain: config({
    schedules: {
      regular: [
        { name: "stage", days: ["*"], start_hour: 9 },
        { name: "prod", days: ["*"], start_hour: 10, canary_count: 1 },
      ],
    },
  }),
  time: config({
    strategy: "time-based",
    maintenance_window_minutes: 120,
    schedules: {
      regular: [
        { name: "stage", days: ["Mon"], start_hour: 9 },
        { name: "prod", days: ["*"], start_hour: 20 },
      ],
    },
  }),
};

/** What a server keeps: per configured group, present agents by kind (one report per agent, the first). */
function countedFrom(cfg: AutoupdateConfig, agents: readonly AgentReport[]): (g: string) => GroupAgents {
  const byGroup = new Map<string, Map<string, AgentReport>>();
  for (const a of agents) {
    const g = resolveGroup(cfg, a.group).name;
    const members = byGroup.get(g) ?? new Map<string, AgentReport>();
    byGroup.set(g, members);
    if (![...byGroup.values()].some((m) => m.has(a.updaterId))) members.set(a.updaterId, a);
  }
  return (g) => {
    const members = byGroup.get(g) ?? new Map<string, AgentReport>();
    const kinds = new Map<string, { kind: AgentKind; count: number }>();
    for (const a of members.values()) {
      const kind: AgentKind = {
        version: a.version,
        healthy: a.healthy,
        ...(a.failedVersion ? { failedVersion: a.failedVersion } : {}),
      };
      const key = JSON.stringify(kind);
      const c = kinds.get(key) ?? { kind, count: 0 };
      c.count++;
      kinds.set(key, c);
    }
    return { kinds: kinds.values(), members: () => [...members.values()], member: (id) => members.get(id) };
  };
}

const IDS = ["a1", "a2", "a3", "a4", "a5", "a6"];
const arbAgent = fc
  .record({
    id: fc.constantFrom(...IDS),
    group: fc.constantFrom<string | undefined>("stage", "prod", "nope", "", undefined),
    version: fc.constantFrom(START, TARGET, "18.0.0", "v17.0.1", "17.0.1+build"),
    healthy: fc.boolean(),
    failed: fc.constantFrom<string | undefined>(undefined, TARGET, "18.0.0"),
  })
  .map((r) => agent(r.id, r.group, r.version, r.healthy, r.failed));

const arbGroup = (name: string) =>
  fc
    .record({
      state: fc.constantFrom<GroupState>(...GROUP_STATES),
      canaries: fc.subarray(IDS, { maxLength: 2 }),
      forced: fc.boolean(),
      started: fc.boolean(),
    })
    .map((g) =>
      status(name, g.state, {
        canaries: g.canaries.map((id) => ({ updaterId: id, hostname: `host-${id}`, success: false })),
        ...(g.forced ? { forced: true } : {}),
        ...(g.started ? { startTime: MON } : {}),
      }),
    );

describe("reconcile over counts", () => {
  test("decides as over the list of agents: same rollout, same events, same canaries", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(CONFIGS)),
        fc.option(fc.tuple(arbGroup("stage"), arbGroup("prod")), { nil: undefined }),
        fc.array(arbAgent, { maxLength: 12 }),
        fc.constantFrom(MON + 9 * HOUR + 5 * 60_000, MON + 12 * HOUR, MON + 20 * HOUR + 60_000),
        fc.constantFrom<string | undefined>(SERVER, undefined, "16.4.0"),
        fc.constantFrom<"regular" | "immediate">("regular", "immediate"),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        (name, groups, agents, now, serverVersion, schedule, critical, seed) => {
          const cfg = CONFIGS[name] as AutoupdateConfig;
          const base: ReconcileInput = {
            config: cfg,
            version: version({ schedule }),
            rollout:
              groups === undefined
                ? undefined
                : {
                    startVersion: START,
                    targetVersion: TARGET,
                    strategy: cfg.spec.agents.strategy,
                    startedAt: MON,
                    groups,
                  },
            serverVersion,
            now,
            random: seededRandom(seed),
            critical,
          };
          const listed = reconcile({ ...base, agents, random: seededRandom(seed) });
          const counted = reconcile({
            ...base,
            counted: countedFrom(cfg, agents),
            random: seededRandom(seed),
          });
          expect(counted).toEqual(listed);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("members are listed only to choose canaries: a step that starts no group reads counts alone", () => {
    const cfg = CONFIGS.halt as AutoupdateConfig;
    const agents = ["s1", "s2", "s3"].map((id) => agent(id, "stage", START));
    const counts = countedFrom(cfg, agents);
    const listed: string[] = [];
    const watched = (g: string): GroupAgents => {
      const c = counts(g);
      return {
        ...c,
        members: () => {
          listed.push(g);
          return c.members();
        },
      };
    };
    const input = {
      config: cfg,
      version: version(),
      serverVersion: SERVER,
      random: seededRandom(1),
      counted: watched,
    };
    // 09:05: stage starts and chooses its canaries: its members are listed, once.
    const started = reconcile({ ...input, rollout: undefined, now: MON + 9 * HOUR + 5 * 60_000 });
    expect(started.rollout?.groups.map((g) => g.state)).toEqual(["canary", "unstarted"]);
    expect(listed).toEqual(["stage"]);
    // Later steps (canaries waited for, counts refreshed): no listing at all.
    for (let i = 1; i <= 5; i++) reconcile({ ...input, rollout: started.rollout, now: MON + (9 + i) * HOUR });
    expect(listed).toEqual(["stage"]);
  });
});
