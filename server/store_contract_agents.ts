/** The Store contract (store_contract.ts): agents' reports, their batching, queries and pruning. */
import { expect, test } from "bun:test";
import type { AgentRecord, Store } from "./store.ts";
import { agent, at, type Fresh } from "./store_contract_kit.ts";

/** A report as stored and listed: fields kept as sent, replaced by the next. */
export function agentReportsContract(fresh: Fresh): void {
  test("agents: the updater's version and failed self-update are kept, and a change of them alone too", async () => {
    const { s } = await fresh();
    await s.upsertAgent(agent("u", { last_seen: at(1), updater_version: "0.1.0" }));
    // Only the updater moved (the product did not): the new report is stored, not just its time.
    await s.upsertAgent(
      agent("u", { last_seen: at(2), updater_version: "0.2.0", updater_failed_version: "0.3.0" }),
    );
    const [u] = await s.listAgents();
    expect(u).toEqual({
      updater_id: "u",
      hostname: "u.local",
      group: "prod",
      version: "16.4.0",
      state: "ok",
      updater_version: "0.2.0",
      updater_failed_version: "0.3.0",
      last_seen: at(2),
    });
    await s.upsertAgent(agent("u", { last_seen: at(3), updater_version: "0.2.0" }));
    expect((await s.queryAgents({ limit: 10 })).agents[0]).toEqual({
      ...agent("u", { last_seen: at(3), updater_version: "0.2.0" }),
    });
  });

  test("agents: a report as sent (optional fields absent or kept); listed oldest report first", async () => {
    const { s } = await fresh();
    await s.upsertAgent(agent("b", { last_seen: at(2) }));
    await s.upsertAgent(
      agent("a", { last_seen: at(2), error: "boom", failed_version: "16.5.0", state: "failed" }),
    );
    await s.upsertAgent(agent("c", { last_seen: at(1) }));
    const all = await s.listAgents();
    expect(all.map((a) => a.updater_id)).toEqual(["c", "a", "b"]);
    expect(all[1]).toEqual({
      updater_id: "a",
      hostname: "a.local",
      group: "prod",
      version: "16.4.0",
      state: "failed",
      error: "boom",
      failed_version: "16.5.0",
      last_seen: at(2),
    });
    expect(Object.keys(all[0] as object)).toEqual([
      "updater_id",
      "hostname",
      "group",
      "version",
      "state",
      "last_seen",
    ]);
    expect((await s.listAgents({ seenSince: at(2) })).map((a) => a.updater_id)).toEqual(["a", "b"]);
    // A repeated report moves last_seen; a changed one replaces the fields (error cleared).
    await s.upsertAgent(agent("c", { last_seen: at(5) }));
    await s.upsertAgent(agent("a", { last_seen: at(6), version: "16.5.0" }));
    const again = await s.listAgents();
    expect(again.map((a) => [a.updater_id, a.last_seen])).toEqual([
      ["b", at(2)],
      ["c", at(5)],
      ["a", at(6)],
    ]);
    expect(again[2]).toEqual(agent("a", { last_seen: at(6), version: "16.5.0" }));
  });
}

/** Reports committed in batches, each acknowledged once committed; close commits the open one. */
export function agentBatchesContract(fresh: Fresh): void {
  test("agents: many reports at once are committed in few batches, each acknowledged once committed", async () => {
    const { s, another } = await fresh();
    const acked = new Set<string>();
    const writes = Array.from({ length: 300 }, (_, i) =>
      s.upsertAgent(agent(`u${String(i).padStart(3, "0")}`)).then(() => acked.add(`u${i}`)),
    );
    expect(acked.size).toBe(0); // nothing acknowledged before its batch commits
    await Promise.all(writes);
    expect(acked.size).toBe(300);
    const stats = s.reportBatches();
    expect(stats.reports).toBe(300);
    expect(stats.batches).toBeLessThanOrEqual(3);
    // Acknowledged means committed: another connection to the database sees every one of them now.
    const other = await another();
    expect((await other.queryAgents({ limit: 1 })).total).toBe(300);
    // The same agent twice in one batch: the later report is kept.
    await Promise.all([
      s.upsertAgent(agent("u001", { last_seen: at(1) })),
      s.upsertAgent(agent("u001", { last_seen: at(2) })),
    ]);
    expect((await other.listAgents({ seenSince: at(1) })).map((a) => a.last_seen)).toEqual([at(2)]);
  });

  test("close commits the open batch", async () => {
    const { s, another } = await fresh();
    const pending = s.upsertAgent(agent("late"));
    await s.close();
    await pending;
    const b = await another();
    expect((await b.listAgents()).map((a) => a.updater_id)).toEqual(["late"]);
  });
}

/** Pages, filters and pruning of agents. */
export function agentQueriesContract(fresh: Fresh): void {
  test("queryAgents: pages by updater id in byte order, with the total and whether more follow", async () => {
    const { s } = await fresh();
    const ids = ["b", "B", "a", "A", "_x", "%y", "a-1", "a_1", "Z9", "z", "é", "0"];
    await Promise.all(ids.map((id) => s.upsertAgent(agent(id))));
    const sorted = [...ids].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await s.queryAgents({ limit: 5, ...(after === undefined ? {} : { after }) });
      expect(page.total).toBe(ids.length);
      seen.push(...page.agents.map((a) => a.updater_id));
      if (!page.more) break;
      after = page.agents.at(-1)?.updater_id;
    }
    expect(seen).toEqual(sorted);
    const last = await s.queryAgents({ limit: 5, after: sorted.at(-1) as string });
    expect(last).toEqual({ agents: [], total: ids.length, more: false });
    expect((await s.queryAgents({ limit: 12 })).more).toBe(false);
    expect((await s.queryAgents({ limit: 11 })).more).toBe(true);
  });

  test("queryAgents: filters by group, last group, version, state, host name prefix and presence", async () => {
    const { s } = await fresh();
    const rows = [
      agent("1", { group: "canary", hostname: "web-1", version: "16.5.0", last_seen: at(10) }),
      agent("2", { group: "canary", hostname: "web-2", state: "failed", last_seen: at(1) }),
      agent("3", { group: "prod", hostname: "Web-3", last_seen: at(10) }),
      agent("4", { group: "other", hostname: "db_%1", version: "16.5.0", last_seen: at(10) }),
      agent("5", { group: "", hostname: "dbx%1", last_seen: at(0) }),
      agent("6", { group: "prod", hostname: "db*[?", last_seen: at(10) }),
    ];
    for (const r of rows) await s.upsertAgent(r);
    const ids = async (q: Parameters<Store["queryAgents"]>[0]) => {
      const p = await s.queryAgents(q);
      expect(p.total).toBe(p.agents.length);
      return p.agents.map((a) => a.updater_id);
    };
    expect(await ids({ limit: 10, group: { is: "canary" } })).toEqual(["1", "2"]);
    expect(await ids({ limit: 10, group: { notIn: ["canary", "prod"] } })).toEqual(["4", "5"]);
    expect(await ids({ limit: 10, group: { notIn: [] } })).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(await ids({ limit: 10, version: "16.5.0" })).toEqual(["1", "4"]);
    expect(await ids({ limit: 10, state: "failed" })).toEqual(["2"]);
    expect(await ids({ limit: 10, hostnamePrefix: "web" })).toEqual(["1", "2", "3"]); // ASCII in any case
    expect(await ids({ limit: 10, hostnamePrefix: "WEB-3" })).toEqual(["3"]);
    expect(await ids({ limit: 10, updaterIds: ["6", "2", "9"] })).toEqual(["2", "6"]);
    expect(await ids({ limit: 10, hostnamePrefix: "db_" })).toEqual(["4"]); // _ and % are literal
    expect(await ids({ limit: 10, hostnamePrefix: "db%" })).toEqual([]);
    expect(await ids({ limit: 10, hostnamePrefix: "dbx%" })).toEqual(["5"]);
    expect(await ids({ limit: 10, hostnamePrefix: "db*[?" })).toEqual(["6"]); // glob characters too
    expect(await ids({ limit: 10, hostnamePrefix: "db*" })).toEqual(["6"]);
    expect(await ids({ limit: 10, hostnamePrefix: "" })).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(await ids({ limit: 10, seenSince: at(10) })).toEqual(["1", "3", "4", "6"]);
    expect(await ids({ limit: 10, seenBefore: at(10) })).toEqual(["2", "5"]);
    expect(await ids({ limit: 10, group: { is: "canary" }, seenSince: at(5), version: "16.5.0" })).toEqual([
      "1",
    ]);
    const page = await s.queryAgents({ limit: 1, after: "1", group: { notIn: ["canary"] } });
    expect(page).toEqual({ agents: [rows[2] as AgentRecord], total: 4, more: true });
  });

  test("pruneAgents: deletes at most `limit` of the agents last seen before the time", async () => {
    const { s } = await fresh();
    for (let i = 0; i < 5; i++) await s.upsertAgent(agent(`old${i}`, { last_seen: at(i) }));
    await s.upsertAgent(agent("new", { last_seen: at(100) }));
    expect(await s.pruneAgents(at(50), 3)).toBe(3);
    expect(await s.pruneAgents(at(50), 3)).toBe(2);
    expect(await s.pruneAgents(at(50), 3)).toBe(0);
    expect((await s.listAgents()).map((a) => a.updater_id)).toEqual(["new"]);
  });
}
