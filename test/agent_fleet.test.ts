/**
 * A fleet of three supervised agents in three rollout groups follows a halt-on-error canary rollout from a
 * real `upkeep serve`, end to end: the canary of the first group updates first and reports, the group turns
 * active then done, then the operator starts the next groups one by one (no waiting on windows). The agents
 * run `agent run --interval 1s`; the order of their updates and the final versions are asserted.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  adminOk,
  daemonVersion,
  enabledHost,
  type Host,
  publish,
  readStateFile,
  setRollout,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(90_000);

const GROUPS = ["g1", "g2", "g3"] as const;

let w: World;
const hosts = new Map<string, Host>();
/** When each group's agent first ran the target (ms since the epoch). */
const updatedAt = new Map<string, number>();
let watching = true;

interface GroupView {
  name: string;
  state: string;
  canaries: { updater_id: string; success: boolean }[];
}

async function rollout(): Promise<GroupView[]> {
  const r = await upkeep(["admin", "get", "rollout", "--json"], { env: w.env });
  return (JSON.parse(r.stdout) as { groups: GroupView[] }).groups;
}

async function stateOf(g: string): Promise<string | undefined> {
  return (await rollout()).find((x) => x.name === g)?.state;
}

const admin = (args: string[]) => adminOk(w, args);

afterAll(() => {
  watching = false;
});

useWorld("agent-fleet", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  await setRollout(
    w,
    { g1: "canary_count: 1", g2: "wait_hours: 0", g3: "wait_hours: 0" },
    "11.0.0",
    "11.1.0",
  );
  for (const g of GROUPS) hosts.set(g, await enabledHost(w, g, ["--group", g]));
});

describe("a canary rollout across three groups of supervised agents", () => {
  test("g1's canary first, then g1 done, then g2, then g3; everyone ends on the target", async () => {
    const t0 = performance.now();
    for (const g of GROUPS) {
      const h = hosts.get(g) as Host;
      expect(readStateFile(h).status.active).toBe("11.0.0");
      await startLoop(h, ["--interval", "1s"], { HELLO_STATE: join(w.dir, g, "hello.json") });
    }
    // Record the moment each agent's daemon runs the target.
    void (async () => {
      while (watching) {
        for (const g of GROUPS) {
          if (!updatedAt.has(g) && daemonVersion(join(w.dir, g, "hello.json")) === "11.1.0")
            updatedAt.set(g, Date.now());
        }
        await Bun.sleep(25);
      }
    })();
    // Every agent reports (so g1 has an agent to pick as its canary); nobody updates while groups are unstarted.
    await waitFor("three agents reporting", async () => {
      const r = await upkeep(["admin", "get", "agents", "--json"], { env: w.env });
      return (JSON.parse(r.stdout) as { agents: unknown[] }).agents.length === 3;
    });
    await Bun.sleep(1500);
    expect(updatedAt.size).toBe(0);

    await admin(["rollout", "start", "g1"]);
    const g1 = (await rollout()).find((x) => x.name === "g1");
    expect(g1?.state).toBe("canary");
    expect(g1?.canaries.map((c) => c.updater_id)).toEqual([
      readStateFile(hosts.get("g1") as Host).spec.updater_id,
    ]);
    await waitFor("g1 done", async () => (await stateOf("g1")) === "done", 30_000);
    expect(updatedAt.has("g1")).toBe(true);
    expect(updatedAt.has("g2") || updatedAt.has("g3")).toBe(false);
    // Halt-on-error order: g3 cannot start before g2 is done.
    const early = await upkeep(["admin", "rollout", "start", "g3"], { env: w.env });
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("g2");

    await admin(["rollout", "start", "g2"]);
    await waitFor("g2 done", async () => (await stateOf("g2")) === "done", 30_000);
    expect(updatedAt.has("g2")).toBe(true);
    expect(updatedAt.has("g3")).toBe(false);

    await admin(["rollout", "force", "g3"]);
    await waitFor("g3 done", async () => (await stateOf("g3")) === "done", 30_000);

    const order = [...updatedAt.entries()].sort((a, b) => a[1] - b[1]).map(([g]) => g);
    expect(order).toEqual(["g1", "g2", "g3"]);
    for (const g of GROUPS) {
      const h = hosts.get(g) as Host;
      expect(readStateFile(h).status).toMatchObject({ active: "11.1.0", backup: "11.0.0", skip: [] });
    }
    const agents = JSON.parse(
      (await upkeep(["admin", "get", "agents", "--json"], { env: w.env })).stdout,
    ) as {
      agents: { group: string; version: string; state: string }[];
    };
    expect(agents.agents.map((a) => [a.group, a.version, a.state]).sort()).toEqual([
      ["g1", "11.1.0", "ok"],
      ["g2", "11.1.0", "ok"],
      ["g3", "11.1.0", "ok"],
    ]);
    const t = (g: string) => Math.round((updatedAt.get(g) as number) - (updatedAt.get("g1") as number));
    console.log(
      `fleet rollout: g1 (canary) updated, g2 +${t("g2")} ms, g3 +${t("g3")} ms; whole test ${Math.round(performance.now() - t0)} ms`,
    );
  });
});
