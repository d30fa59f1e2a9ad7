// Issue 13: reports counted as they arrive (no reconcile per report), the agent list paged and filtered by
// the store, agents gone for longer than the retention pruned, bounded per-group metrics.
import { describe, expect, test } from "bun:test";
import type { Harness } from "./test_harness.ts";
import { AGENT, CONFIG_YAML, harness, ONE_GROUP, publishManifest, VIEWER } from "./test_harness.ts";

const VERSION = {
  kind: "autoupdate_version",
  spec: {
    agents: { start_version: "16.4.0", target_version: "17.0.1", schedule: "regular", mode: "enabled" },
  },
};

async function setup(h: Harness, config = CONFIG_YAML): Promise<void> {
  await publishManifest(h, ["16.4.0", "17.0.1"]);
  expect(
    (await h.req("PUT", "/v1/resources/autoupdate_config", config, undefined, "application/yaml")).status,
  ).toBe(200);
  expect((await h.req("PUT", "/v1/resources/autoupdate_version", VERSION)).status).toBe(200);
}

type Report = { id: string; group?: string; version?: string; state?: string; hostname?: string } & Record<
  string,
  unknown
>;

/** Sends the reports 500 at a time (each batch of reports is one transaction). */
async function reportAll(h: Harness, reports: Report[]): Promise<void> {
  for (let i = 0; i < reports.length; i += 500) {
    const statuses = await Promise.all(
      reports.slice(i, i + 500).map(async ({ id, group, version, state, hostname, ...extra }) => {
        const body = {
          updater_id: id,
          hostname: hostname ?? `${id}.local`,
          ...(group === undefined ? {} : { group }),
          version: version ?? "16.4.0",
          state: state ?? "ok",
          ...extra,
        };
        const r = await h.req("POST", "/v1/agents/report", body, AGENT);
        return r.status;
      }),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  }
}

async function metrics(h: Harness): Promise<string> {
  return (await h.req("GET", "/metrics", undefined, VIEWER)).text();
}

async function reconciles(h: Harness): Promise<number> {
  return Number(/^upkeep_reconciles (\d+)$/m.exec(await metrics(h))?.[1]);
}

async function prodGroup(h: Harness) {
  const view = (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as {
    groups: { name: string; state: string; present_count: number; up_to_date_count: number }[];
  };
  return view.groups.find((g) => g.name === "prod");
}

const ids = (n: number, prefix = "a") =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);

describe("reports are counted, not reconciled one by one", () => {
  /** 2,000 agents of prod on 16.4.0, then the one-group rollout to 17.0.1 (prod active); the reconciles so far. */
  async function activeProd(): Promise<{ h: Harness; fleet: string[]; before: number }> {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    const fleet = ids(2000);
    await reportAll(
      h,
      fleet.map((id) => ({ id, group: "prod" })),
    );
    await setup(h, ONE_GROUP);
    expect((await prodGroup(h))?.state).toBe("active");
    return { h, fleet, before: await reconciles(h) };
  }

  test("a report that changes no count runs no reconcile (the old server ran one per report, walking every agent)", async () => {
    const { h, fleet, before } = await activeProd();
    await reportAll(
      h,
      fleet.map((id) => ({ id, group: "prod" })),
    );
    expect(await reconciles(h)).toBe(before);
    expect(await prodGroup(h)).toMatchObject({ state: "active", present_count: 2000, up_to_date_count: 0 });
  });

  test("reports that change an active group's counts are folded into a few reconciles; the decision is the same", async () => {
    const { h, fleet, before } = await activeProd();
    const t0 = performance.now();
    await reportAll(
      h,
      fleet.map((id) => ({ id, group: "prod", version: "17.0.1" })),
    );
    const ms = performance.now() - t0;
    // At most one run per 250 ms (and one at once): far below one per report, however slow the machine.
    expect((await reconciles(h)) - before).toBeLessThanOrEqual(3 + ms / 100);
    expect(await prodGroup(h)).toMatchObject({ state: "done", present_count: 2000, up_to_date_count: 2000 });
  });

  test("a report that decides (a canary fails) is acted on at once after a quiet spell", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await reportAll(h, [{ id: "c1", group: "canary" }]);
    await setup(h);
    await Bun.sleep(300); // quiet for longer than the gap
    await reportAll(h, [{ id: "c1", group: "canary", state: "rolledback", failed_version: "17.0.1" }]);
    const find = (await (await h.app.request("/v1/webapi/find?group=canary&updater_id=c1")).json()) as {
      upkeep: { group_state: string };
    };
    expect(find.upkeep.group_state).toBe("rolledback");
  });
});

describe("GET /v1/agents: pages, filters, counts", () => {
  async function fleet(h: Harness): Promise<void> {
    await setup(h);
    const reports: Report[] = [];
    for (const [i, id] of ids(250).entries()) {
      reports.push({
        id,
        group: ["canary", "prod", "made-up", undefined][i % 4],
        version: i % 5 === 0 ? "17.0.1" : "16.4.0",
        state: i % 25 === 0 ? "rolledback" : "ok",
        hostname: i % 10 === 0 ? `web*${i}.example` : `db-${i}.example`,
        ...(i % 25 === 0 ? { failed_version: "17.0.1" } : {}),
      });
    }
    await reportAll(h, reports);
  }

  type Page = {
    agents: { updater_id: string; group: string; version: string; state: string; present: boolean }[];
    total: number;
    limit: number;
    next: string | null;
  };
  const get = async (h: Harness, query: string): Promise<Page> => {
    const r = await h.req("GET", `/v1/agents${query}`, undefined, VIEWER);
    expect(r.status).toBe(200);
    return (await r.json()) as Page;
  };

  test("no parameters: the first 100 by updater id, how many in all, and a cursor to the rest", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await fleet(h);
    const first = await get(h, "");
    expect(first.agents).toHaveLength(100);
    expect(first.total).toBe(250);
    expect(first.limit).toBe(100);
    const seen = first.agents.map((a) => a.updater_id);
    let next = first.next;
    while (next !== null) {
      const page = await get(h, `?cursor=${encodeURIComponent(next)}`);
      seen.push(...page.agents.map((a) => a.updater_id));
      next = page.next;
    }
    expect(seen).toEqual(ids(250));
    const small = await get(h, "?limit=7");
    expect(small.agents.map((a) => a.updater_id)).toEqual(ids(7));
  });

  test("filters: group as counted (the last group takes unknown and no group), version, state, host name prefix (any case), present", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await fleet(h);
    const canary = await get(h, "?group=canary&limit=1000");
    expect(canary.total).toBe(63);
    expect(canary.agents.every((a) => a.group === "canary")).toBe(true);
    const prod = await get(h, "?group=prod&limit=1000");
    expect(prod.total).toBe(187);
    expect(new Set(prod.agents.map((a) => a.group))).toEqual(new Set(["prod", "made-up", ""]));
    expect((await get(h, "?version=v17.0.1")).total).toBe(50);
    const failed = await get(h, "?state=rolledback&group=canary");
    expect(failed.agents.map((a) => a.updater_id)).toEqual(["a00000", "a00100", "a00200"]);
    expect((await get(h, `?hostname=${encodeURIComponent("web*1")}`)).total).toBe(11); // web*1, web*10..190
    expect((await get(h, "?hostname=web")).total).toBe(25);
    expect((await get(h, "?hostname=WEB")).total).toBe(25); // any case, as DNS compares names
    expect((await get(h, "?present=true")).total).toBe(250);
    h.clock.advance(11 * 60_000);
    await reportAll(h, [{ id: "a00001", group: "prod" }]);
    expect((await get(h, "?present=true")).agents.map((a) => a.updater_id)).toEqual(["a00001"]);
    expect((await get(h, "?present=false")).total).toBe(249);
  });

  test("a bad parameter: 400 naming it", async () => {
    const h = await harness();
    await setup(h);
    for (const [query, says] of [
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
      ["?limit=ten", "limit"],
      ["?cursor=%2F%2F", "cursor"],
      ["?group=nope", "not a group of the schedule (canary, prod)"],
      ["?version=banana", "version"],
      ["?state=happy", "state"],
      ["?present=maybe", "present"],
      ["?grp=prod", 'unknown query parameter "grp"'],
    ] as const) {
      const r = await h.req("GET", `/v1/agents${query}`, undefined, VIEWER);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toContain(says);
    }
  });
});

describe("pruning and metrics", () => {
  test("agents not seen for the retention are deleted from the store, and counted", async () => {
    const h = await harness({ start: "2026-11-23T08:00:00Z", retentionMs: 3_600_000 });
    await setup(h);
    await reportAll(
      h,
      ids(1500, "old").map((id) => ({ id, group: "prod" })),
    );
    h.clock.advance(50 * 60_000);
    await reportAll(h, [{ id: "new", group: "prod" }]);
    h.clock.advance(20 * 60_000); // the old ones: 70 min unseen; "new": 20 min
    expect(await h.rollout.prune()).toBe(1500);
    const page = (await (await h.req("GET", "/v1/agents", undefined, VIEWER)).json()) as {
      agents: { updater_id: string }[];
      total: number;
    };
    expect(page.agents.map((a) => a.updater_id)).toEqual(["new"]);
    expect(await metrics(h)).toContain("upkeep_agents_pruned_total 1500");
    expect(await h.rollout.prune()).toBe(0);
  });

  test("per group: a version histogram (the 10 most common, the rest as other) and state counts", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await setup(h);
    const reports: Report[] = [];
    // prod: 15 versions, version 1.0.k run by k+1 agents; canary: 3 agents, one updating.
    for (let k = 0; k < 15; k++)
      for (let j = 0; j <= k; j++) reports.push({ id: `p${k}-${j}`, group: "prod", version: `1.0.${k}` });
    reports.push({ id: "c1", group: "canary" }, { id: "c2", group: "canary" });
    reports.push({ id: "c3", group: "canary", state: "updating" });
    await reportAll(h, reports);
    const text = await metrics(h);
    const prodVersions = [
      ...text.matchAll(/^upkeep_agents_version\{group="prod",version="([^"]+)"\} (\d+)$/gm),
    ];
    expect(prodVersions.map((m) => m[1]).sort()).toEqual(
      ["other", ...Array.from({ length: 10 }, (_, i) => `1.0.${i + 5}`)].sort(),
    );
    expect(prodVersions.find((m) => m[1] === "other")?.[2]).toBe(String(1 + 2 + 3 + 4 + 5));
    expect(text).toContain('upkeep_agents_state{group="canary",state="ok"} 2');
    expect(text).toContain('upkeep_agents_state{group="canary",state="updating"} 1');
    expect(text).toContain('upkeep_agents_state{group="canary",state="failed"} 0');
    expect(text).toContain('upkeep_agents_state{group="prod",state="ok"} 120');
    expect(text).not.toMatch(/upkeep_agents\{[^}]*version="1\.0\.0"/);
  });
  test("hosts per updater version: the 10 most common, the rest as other, unknown for older agents", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await setup(h);
    const reports: Report[] = [];
    // 12 updater versions, 0.1.k run by k+1 agents; 3 agents too old to report one.
    for (let k = 0; k < 12; k++)
      for (let j = 0; j <= k; j++)
        reports.push({ id: `u${k}-${j}`, group: "prod", updater_version: `0.1.${k}` });
    reports.push({ id: "old1" }, { id: "old2" }, { id: "old3" });
    await reportAll(h, reports);
    const rows = (): Promise<Record<string, number>> =>
      metrics(h).then((text) =>
        Object.fromEntries(
          [...text.matchAll(/^upkeep_agents_updater_version\{version="([^"]+)"\} (\d+)$/gm)].map((m) => [
            m[1],
            Number(m[2]),
          ]),
        ),
      );
    const before = await rows();
    // 0.1.2..0.1.11 (3..12 agents) are the ten most common; unknown is a row of its own.
    expect(Object.keys(before).sort()).toEqual(
      ["other", "unknown", ...Array.from({ length: 10 }, (_, i) => `0.1.${i + 2}`)].sort(),
    );
    expect(before.other).toBe(1 + 2);
    expect(before.unknown).toBe(3);
    // An agent's updater moves: counted under its new version, no longer under the old one.
    await reportAll(h, [
      { id: "u11-0", group: "prod", updater_version: "0.2.0" },
      { id: "old1", updater_version: "0.2.0" },
    ]);
    const after = await rows();
    expect(after["0.1.11"]).toBe(11);
    expect(after.unknown).toBe(2);
    // 0.1.2 (3 agents) is still the tenth: 0.2.0 (2) joins 0.1.0 (1) and 0.1.1 (2) as other.
    expect(after.other).toBe(1 + 2 + 2);
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(78 + 3);
  });
});
