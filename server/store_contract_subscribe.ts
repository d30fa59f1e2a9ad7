/** The Store contract (store_contract.ts): change notifications. */
import { expect, test } from "bun:test";
import { agent, event, eventually, type Fresh, type StoreFactory, T0 } from "./store_contract_kit.ts";

/** What each write changed, told to subscribers (of every store on the database where shared). */
export function subscribeContract(fresh: Fresh, factory: StoreFactory): void {
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
}
