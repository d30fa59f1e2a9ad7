/**
 * The `Store` contract: one suite of tests, registered for each backend (sqlite_store.contract.test.ts,
 * pg_store.contract.test.ts), so both keep the same semantics: every method, agent pages and filters, report
 * batching and its durability, rollout compare-and-swap, change notifications.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { AgentRecord, ReleaseArtifact, RolloutEvent, Store, TokenRecord } from "./store.ts";

/** A store as the suite opens it (the backends add their batch counters). */
export type ContractStore = Store & { reportBatches(): { batches: number; reports: number } };

export interface StoreFactory {
  /**
   * A new empty database; answers how to open a store on it. Opening twice gives two stores on the same
   * database (two replicas, or a second process after a crash).
   */
  fresh(): Promise<() => Promise<ContractStore>>;
  /** Stores on one database hear each other's writes through `subscribe` (PostgreSQL). */
  sharedNotifications: boolean;
  /** Why the suite cannot run here (it is skipped), or undefined. */
  skip?: string | undefined;
}

const T0 = "2026-11-23T08:30:00.000Z";
const at = (minutes: number): string => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

const agent = (id: string, o: Partial<AgentRecord> = {}): AgentRecord => ({
  updater_id: id,
  hostname: `${id}.local`,
  group: "prod",
  version: "16.4.0",
  state: "ok",
  last_seen: T0,
  ...o,
});

const event = (n: number, group = "canary"): RolloutEvent => ({
  time: at(n),
  group,
  from: "unstarted",
  to: "active",
  reason: `step ${n}`,
});

/** Waits until `check` holds (notifications arrive asynchronously on PostgreSQL); generous bound. */
async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return;
    await Bun.sleep(10);
  }
}

export function storeContract(label: string, factory: StoreFactory): void {
  describe.skipIf(factory.skip !== undefined)(`Store contract: ${label}`, () => {
    const opened: ContractStore[] = [];
    /** A store on a fresh database, and how to open another on the same one; all closed after the test. */
    const fresh = async (): Promise<{ s: ContractStore; another: () => Promise<ContractStore> }> => {
      const open = await factory.fresh();
      const another = async () => {
        const s = await open();
        opened.push(s);
        return s;
      };
      return { s: await another(), another };
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

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

    test("rollout: absent, written, cleared (null reads as none); every write moves the generation", async () => {
      const { s } = await fresh();
      expect(await s.getRollout()).toBeUndefined();
      expect(await s.getRolloutState()).toBeUndefined();
      await s.putRollout({ groups: [{ name: "canary", state: "active" }] });
      expect(await s.getRollout()).toEqual({ groups: [{ name: "canary", state: "active" }] });
      expect(await s.getRolloutState()).toEqual({
        value: { groups: [{ name: "canary", state: "active" }] },
        generation: 1,
      });
      await s.putRollout(null);
      expect(await s.getRollout()).toBeUndefined();
      expect(await s.getRolloutState()).toEqual({ value: undefined, generation: 2 });
    });

    test("casRollout: writes and appends only at the expected generation; a stale writer changes nothing", async () => {
      const { s } = await fresh();
      expect(await s.casRollout(1, { v: "x" }, [event(0)])).toBe(false); // none yet: expected is 0
      expect(await s.getRolloutState()).toBeUndefined();
      expect(await s.casRollout(0, { v: 1 }, [event(1), event(2)])).toBe(true);
      expect(await s.getRolloutState()).toEqual({ value: { v: 1 }, generation: 1 });
      expect(await s.casRollout(0, { v: "stale" }, [event(9)])).toBe(false);
      expect(await s.casRollout(1, { v: 2 }, [event(3)])).toBe(true);
      expect(await s.casRollout(1, { v: "stale" }, [event(9)])).toBe(false);
      expect(await s.getRolloutState()).toEqual({ value: { v: 2 }, generation: 2 });
      expect(await s.listEvents(100)).toEqual([event(1), event(2), event(3)]);
      // putRollout moves the generation too: a CAS holder of the old one is refused.
      await s.putRollout({ v: 3 });
      expect(await s.casRollout(2, { v: "stale" }, [])).toBe(false);
      expect(await s.getRolloutState()).toEqual({ value: { v: 3 }, generation: 3 });
      expect(await s.casRollout(3, null, [])).toBe(true);
      expect(await s.getRolloutState()).toEqual({ value: undefined, generation: 4 });
    });

    test("casRollout from two stores at once at the same generation: exactly one wins", async () => {
      const { s, another } = await fresh();
      const b = await another();
      await s.casRollout(0, { by: "start" }, []);
      for (let round = 1; round <= 10; round++) {
        const results = await Promise.all([
          s.casRollout(round, { by: "a", round }, [event(round, "a")]),
          b.casRollout(round, { by: "b", round }, [event(round, "b")]),
        ]);
        expect(results.filter((r) => r)).toHaveLength(1);
        const won = results[0] ? "a" : "b";
        expect(await b.getRolloutState()).toEqual({ value: { by: won, round }, generation: round + 1 });
      }
      // One event per round: the loser's events were not appended.
      expect(await s.listEvents(100)).toHaveLength(10);
    });

    test("events: appended in order; listEvents answers the last N, oldest first", async () => {
      const { s } = await fresh();
      expect(await s.listEvents(10)).toEqual([]);
      await s.appendEvents([event(1), event(2)]);
      await s.appendEvents([]);
      await s.appendEvents([event(3)]);
      expect(await s.listEvents(10)).toEqual([event(1), event(2), event(3)]);
      expect(await s.listEvents(2)).toEqual([event(2), event(3)]);
    });

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

    test("tokens: listed by kind, oldest first; a known hash is not added twice; removed by id", async () => {
      const { s } = await fresh();
      const tok = (id: string, kind: TokenRecord["kind"], created: string): TokenRecord => ({
        id,
        kind,
        hash: `hash-${id}`,
        name: `name ${id}`,
        created,
      });
      await s.addToken(tok("t2", "admin", at(2)));
      await s.addToken(tok("t1", "admin", at(1)));
      await s.addToken(tok("t3", "agent", at(3)));
      await s.addToken({ ...tok("t4", "admin", at(4)), hash: "hash-t1" }); // same hash: ignored
      await s.addToken({ ...tok("t1", "viewer", at(5)), hash: "other" }); // same id: ignored
      expect(await s.listTokens("admin")).toEqual([tok("t1", "admin", at(1)), tok("t2", "admin", at(2))]);
      expect(await s.listTokens("agent")).toEqual([tok("t3", "agent", at(3))]);
      expect(await s.listTokens("viewer")).toEqual([]);
      expect(await s.removeTokens(["t1", "t3", "nope"])).toBe(2);
      expect(await s.removeTokens([])).toBe(0);
      expect(await s.listTokens("admin")).toEqual([tok("t2", "admin", at(2))]);
    });

    test("artifacts: metadata by name (sizes above 4 GiB too), replaced by a new upload", async () => {
      const { s } = await fresh();
      const art = (name: string, size: number): ReleaseArtifact => ({
        name,
        size,
        sha256: "ab".repeat(32),
        uploaded: T0,
      });
      expect(await s.listArtifacts()).toEqual([]);
      expect(await s.getArtifact("x")).toBeUndefined();
      await s.putArtifact(art("hello-v1-linux-amd64-bin.tar.gz", 5 * 2 ** 30));
      await s.putArtifact(art("Hello-v1.txt", 3));
      await s.putArtifact(art("hello-v1-linux-amd64-bin.tar.gz", 7));
      expect(await s.listArtifacts()).toEqual([
        art("Hello-v1.txt", 3),
        art("hello-v1-linux-amd64-bin.tar.gz", 7),
      ]);
      expect(await s.getArtifact("Hello-v1.txt")).toEqual(art("Hello-v1.txt", 3));
      await s.putArtifact(art("big", 5 * 2 ** 30));
      expect((await s.getArtifact("big"))?.size).toBe(5 * 2 ** 30);
    });

    test("subscribe: told what each write changed; not after unsubscribing", async () => {
      const { s } = await fresh();
      const told: string[] = [];
      const stop = await s.subscribe((what) => told.push(what));
      await s.putResource("autoupdate_version", { v: 1 });
      await s.putSetting("server_version", "1.0.0");
      await s.putRollout({ r: 1 });
      await s.casRollout(1, { r: 2 }, [event(1)]);
      expect(await s.casRollout(1, { r: 3 }, [])).toBe(false); // refused: nothing changed, nothing told
      await s.appendEvents([event(2)]);
      await s.addToken({ id: "t", kind: "agent", hash: "h", name: "n", created: T0 });
      await s.removeTokens(["t"]);
      await s.putArtifact({ name: "a", size: 1, sha256: "00", uploaded: T0 });
      await s.upsertAgent(agent("x")); // reports are not told
      const expected = [
        "resource:autoupdate_version",
        "setting:server_version",
        "rollout",
        "rollout",
        "rollout",
        "tokens",
        "tokens",
        "artifacts",
      ];
      await eventually(() => told.length >= expected.length);
      expect(told).toEqual(expected);
      await stop();
      await s.putSetting("server_version", "2.0.0");
      await Bun.sleep(200);
      expect(told).toHaveLength(expected.length);
    });

    test.if(factory.sharedNotifications)(
      "subscribe: told of the writes of another store on the database",
      async () => {
        const { s, another } = await fresh();
        const b = await another();
        const told: string[] = [];
        await b.subscribe((what) => told.push(what));
        await s.putResource("autoupdate_config", { c: 1 });
        await s.casRollout(0, { r: 1 }, []);
        await eventually(() => told.length >= 2);
        expect(told).toEqual(["resource:autoupdate_config", "rollout"]);
      },
    );

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
  });
}
