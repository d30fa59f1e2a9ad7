/**
 * The `Store` contract: one suite of tests, registered for each backend (sqlite_store.contract.test.ts,
 * pg_store.contract.test.ts), so both keep the same semantics: every method, agent pages and filters, report
 * batching and its durability, rollout compare-and-swap, change notifications. The tests are kept by area in
 * store_contract_*.ts, over the fixtures of store_contract_kit.ts.
 */
import { describe, expect, test } from "bun:test";
import { agentBatchesContract, agentQueriesContract, agentReportsContract } from "./store_contract_agents.ts";
import { agent, event, type Fresh, freshStores, type StoreFactory, T0 } from "./store_contract_kit.ts";
import { rolloutContract } from "./store_contract_rollout.ts";
import { sessionsContract, sessionsSharedContract } from "./store_contract_sessions.ts";
import { subscribeContract } from "./store_contract_subscribe.ts";
import { tokensArtifactsContract } from "./store_contract_tokens.ts";

export type { ContractStore, StoreFactory } from "./store_contract_kit.ts";

export function storeContract(label: string, factory: StoreFactory): void {
  describe.skipIf(factory.skip !== undefined)(`Store contract: ${label}`, () => {
    const fresh = freshStores(factory);
    basicsContract(fresh);
    rolloutContract(fresh);
    agentReportsContract(fresh);
    agentBatchesContract(fresh);
    agentQueriesContract(fresh);
    tokensArtifactsContract(fresh);
    subscribeContract(fresh, factory);
    sessionsContract(fresh);
    sessionsSharedContract(fresh, factory);
    lifecycleContract(fresh);
  });
}

/** Resources and settings: absent, written, replaced. */
function basicsContract(fresh: Fresh): void {
  test("resources: absent, then the value as written, replaced by the next write", async () => {
    const { s } = await fresh();
    expect(await s.getResource("autoupdate_config")).toBeUndefined();
    const doc = {
      kind: "autoupdate_config",
      spec: { groups: [{ name: "b" }, { name: "a" }], z: 1, a: "é\u0000?" },
    };
    await s.putResource("autoupdate_config", doc);
    expect(await s.getResource("autoupdate_config")).toEqual(doc);
    // Key order survives (documents are stored as written, not normalized).
    expect(JSON.stringify(await s.getResource("autoupdate_config"))).toBe(JSON.stringify(doc));
    await s.putResource("autoupdate_config", { kind: "autoupdate_config", spec: {} });
    expect(await s.getResource("autoupdate_config")).toEqual({ kind: "autoupdate_config", spec: {} });
    expect(await s.getResource("autoupdate_version")).toBeUndefined();
  });

  test("settings: absent, set, replaced", async () => {
    const { s } = await fresh();
    expect(await s.getSetting("server_version")).toBeUndefined();
    await s.putSetting("server_version", "16.4.0");
    await s.putSetting("critical_versions", "[]");
    await s.putSetting("server_version", "16.5.0");
    expect(await s.getSetting("server_version")).toBe("16.5.0");
    expect(await s.getSetting("critical_versions")).toBe("[]");
  });
}

/** Health, and the state kept across a reopen. */
function lifecycleContract(fresh: Fresh): void {
  test("health: ok; writable", async () => {
    const { s } = await fresh();
    expect(s.health()).toEqual({ ok: true });
    expect(() => s.assertWritable()).not.toThrow();
  });

  test("state survives a reopen", async () => {
    const { s, another } = await fresh();
    await s.putResource("autoupdate_config", { c: 1 });
    await s.putSetting("k", "v");
    await s.casRollout(0, { r: 1 }, [event(1)]);
    await s.upsertAgent(agent("a"));
    await s.addToken({ id: "t", kind: "admin", hash: "h", name: "n", created: T0 });
    await s.putArtifact({ name: "a", size: 1, sha256: "00", uploaded: T0 });
    await s.close();
    const b = await another();
    expect(await b.getResource("autoupdate_config")).toEqual({ c: 1 });
    expect(await b.getSetting("k")).toBe("v");
    expect(await b.getRolloutState()).toEqual({ value: { r: 1 }, generation: 1 });
    expect(await b.listEvents(10)).toEqual([event(1)]);
    expect(await b.listAgents()).toEqual([agent("a")]);
    expect(await b.listTokens("admin")).toHaveLength(1);
    expect(await b.listArtifacts()).toHaveLength(1);
  });
}
