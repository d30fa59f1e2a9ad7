/**
 * The dashboard's reads of the fleet (data.ts) over a real store (server/test_harness.ts): the Hosts table's
 * filters and pages answered by the store's query, the group rows' histograms from the server's counts,
 * the canaries looked up by id.
 */
import { describe, expect, test } from "bun:test";
import type { AgentQuery } from "../../core/dashboard/mod.ts";
import { parseAutoupdateConfig } from "../../core/resources/mod.ts";
import { ADMIN, AGENT, CONFIG_YAML, type Harness, harness } from "../test_harness.ts";
import { type FleetReader, storeFleet } from "./data.ts";

const VERSION_YAML = `kind: autoupdate_version
spec:
  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: regular, mode: enabled }
`;

/** Reports sent at once (one batch); each must be accepted. */
async function reportAll(h: Harness, reports: Record<string, unknown>[]): Promise<void> {
  const sent = await Promise.all(
    reports.map((r) =>
      h.req("POST", "/v1/agents/report", { group: "prod", version: "16.4.0", state: "ok", ...r }, AGENT),
    ),
  );
  for (const r of sent) expect(r.status).toBe(200);
}

async function configured(h: Harness, version = false): Promise<FleetReader> {
  const put = (kind: string, yaml: string) =>
    h.req("PUT", `/v1/resources/${kind}?force=1`, yaml, ADMIN, "application/yaml");
  expect((await put("autoupdate_config", CONFIG_YAML)).status).toBe(200);
  if (version) expect((await put("autoupdate_version", VERSION_YAML)).status).toBe(200);
  return storeFleet(h.rollout, parseAutoupdateConfig(h.rollout.getConfig()));
}

describe("the Hosts table: one store query a page", () => {
  test("filters: group as the rollout counts it, version, state, hostname prefix in any case", async () => {
    const h = await harness();
    const fleet = await configured(h);
    // Reported out of id order; u5 and u2 name no group and an unknown one: counted in the last, prod.
    await reportAll(h, [
      { updater_id: "u3", hostname: "web-3", group: "canary" },
      { updater_id: "u1", hostname: "WEB-1", version: "17.0.1" },
      { updater_id: "u5", hostname: "DB-5", group: undefined, state: "failed", failed_version: "17.0.1" },
      { updater_id: "u2", hostname: "web-2", group: "nonexistent" },
      { updater_id: "u4", hostname: "db-4", version: "17.0.1", state: "rolledback" },
    ]);
    const ids = async (q: Partial<AgentQuery>) => {
      const p = await fleet.page({ limit: 50, ...q });
      return { ids: p.agents.map((a) => a.updater_id), total: p.total, next: p.next };
    };
    expect(await ids({})).toEqual({ ids: ["u1", "u2", "u3", "u4", "u5"], total: 5, next: null });
    expect((await ids({ group: "prod" })).ids).toEqual(["u1", "u2", "u4", "u5"]);
    expect((await ids({ group: "canary" })).ids).toEqual(["u3"]);
    expect((await ids({ version: "17.0.1" })).ids).toEqual(["u1", "u4"]);
    expect((await ids({ version: "v17.0.1" })).ids).toEqual(["u1", "u4"]);
    expect((await ids({ state: "failed" })).ids).toEqual(["u5"]);
    expect((await ids({ hostname: "db-" })).ids).toEqual(["u4", "u5"]);
    expect((await ids({ hostname: "Web" })).ids).toEqual(["u1", "u2", "u3"]);
    expect(await ids({ hostname: "DB-", version: "17.0.1" })).toEqual({ ids: ["u4"], total: 1, next: null });
    expect(await ids({ group: "staging" })).toEqual({ ids: [], total: 0, next: null });
    const page = await fleet.page({ limit: 1, hostname: "web-3" });
    expect(page.agents[0]).toMatchObject({ hostname: "web-3", group: "canary", present: true });
  });

  test("pages: each agent once, in id order, the total on every page, no next on the last", async () => {
    const h = await harness();
    const fleet = await configured(h);
    await reportAll(
      h,
      ["u1", "u2", "u3", "u4", "u5"].map((id) => ({ updater_id: id, hostname: `host-${id}` })),
    );
    const ids = async (q: Partial<AgentQuery>) => {
      const p = await fleet.page({ limit: 50, ...q });
      return { ids: p.agents.map((a) => a.updater_id), total: p.total, next: p.next };
    };
    expect(await ids({ limit: 2 })).toEqual({ ids: ["u1", "u2"], total: 5, next: "u2" });
    expect(await ids({ limit: 2, cursor: "u2" })).toEqual({ ids: ["u3", "u4"], total: 5, next: "u4" });
    expect(await ids({ limit: 2, cursor: "u4" })).toEqual({ ids: ["u5"], total: 5, next: null });
    expect(await ids({ limit: 5 })).toEqual({ ids: ["u1", "u2", "u3", "u4", "u5"], total: 5, next: null });
  });

  test("a large fleet stored in random order pages through every agent exactly once", async () => {
    const h = await harness();
    const fleet = await configured(h);
    const n = 2_345;
    const ids = Array.from({ length: n }, (_, i) => `a${String((i * 7919) % n).padStart(5, "0")}`);
    const seen = new Date().toISOString();
    await Promise.all(
      ids.map((id, i) =>
        h.store.upsertAgent({
          updater_id: id,
          hostname: `h-${id}`,
          group: i % 2 ? "prod" : "canary",
          version: "16.4.0",
          state: "ok",
          last_seen: seen,
        }),
      ),
    );
    const paged: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const p = await fleet.page({ limit: 100, ...(cursor ? { cursor } : {}) });
      expect(p.total).toBe(n);
      paged.push(...p.agents.map((a) => a.updater_id));
      if (!p.next) break;
      cursor = p.next;
    }
    expect(paged).toEqual([...ids].sort());
  });
});

describe("the group rows' stats", () => {
  test("histograms of present hosts from the kept counts; canaries by id, their last report even when gone", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" }); // canary's window is open
    await reportAll(h, [
      { updater_id: "c1", hostname: "canary-1", group: "canary" },
      { updater_id: "c2", hostname: "canary-2", group: "canary" },
      { updater_id: "p1", hostname: "prod-1", version: "17.0.1" },
      { updater_id: "p2", hostname: "prod-2", version: "17.0.1", state: "failed", failed_version: "17.0.1" },
      { updater_id: "p3", hostname: "prod-3", group: undefined },
    ]);
    const fleet = await configured(h, true);
    const canaryIds = (await h.rollout.view()).groups.flatMap((g) => g.canaries.map((c) => c.updater_id));
    expect(canaryIds).toHaveLength(1);
    const canary = canaryIds[0] as string;
    const other = canary === "c1" ? "c2" : "c1";
    let stats = await fleet.stats(new Set(canaryIds));
    expect(stats.versions).toEqual(
      new Map([
        ["canary", new Map([["16.4.0", 2]])],
        [
          "prod",
          new Map([
            ["17.0.1", 2],
            ["16.4.0", 1],
          ]),
        ],
      ]),
    );
    expect(stats.canaries.get(canary)).toMatchObject({ version: "16.4.0", state: "ok", present: true });

    // 11 minutes on (presence: 10), everyone but the canary reports again: the canary no longer counts in
    // the histogram, and its row still shows what it last said.
    h.clock.advance(11 * 60_000);
    await reportAll(h, [
      { updater_id: other, hostname: "canary-x", group: "canary", version: "17.0.1" },
      { updater_id: "p1", hostname: "prod-1", version: "17.0.1" },
    ]);
    stats = await fleet.stats(new Set([canary, "never-reported"]));
    expect(stats.versions).toEqual(
      new Map([
        ["canary", new Map([["17.0.1", 1]])],
        ["prod", new Map([["17.0.1", 1]])],
      ]),
    );
    expect([...stats.canaries.keys()]).toEqual([canary]);
    expect(stats.canaries.get(canary)).toMatchObject({ version: "16.4.0", present: false });
    expect(await fleet.get("p2")).toMatchObject({ hostname: "prod-2", state: "failed", present: false });
    expect(await fleet.get("nobody")).toBeUndefined();
  });
});
