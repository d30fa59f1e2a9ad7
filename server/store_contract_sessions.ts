/** The Store contract (store_contract.ts): dashboard sessions. */
import { expect, test } from "bun:test";
import {
  at,
  eventually,
  type Fresh,
  type StoreFactory,
  session,
  sessionToken,
} from "./store_contract_kit.ts";

/** Sessions live, used, flashed, ended and pruned. */
export function sessionsContract(fresh: Fresh): void {
  test("sessions: answered while live and while their token is stored; used, flashed, ended", async () => {
    const { s } = await fresh();
    await s.addToken(sessionToken("tok-admin"));
    await s.addToken(sessionToken("tok-viewer", "viewer"));
    expect(await s.getSession("nope", at(0))).toBeUndefined();
    await s.addSession(session("a", 0));
    await s.addSession(session("v", 0, { tokenId: "tok-viewer", kind: "viewer" }));
    expect(await s.getSession("a", at(1))).toEqual(session("a", 0));
    expect(await s.getSession("v", at(1))).toEqual(
      session("v", 0, { tokenId: "tok-viewer", kind: "viewer" }),
    );
    // Ends at `expires` (not after).
    expect(await s.getSession("a", at(59))).toBeDefined();
    expect(await s.getSession("a", at(60))).toBeUndefined();
    // Used: a new last use and end; an unknown session is not made.
    await s.touchSession("a", at(30), at(90));
    await s.touchSession("nope", at(30), at(90));
    expect(await s.getSession("a", at(60))).toEqual(session("a", 0, { lastUsed: at(30), expires: at(90) }));
    expect(await s.getSession("nope", at(60))).toBeUndefined();
    // A message for the next page, kept as given, then cleared.
    const flash = { ok: false, text: "refused (409): é <b>\u202e" };
    await s.setSessionFlash("a", flash);
    expect((await s.getSession("a", at(31)))?.flash).toEqual(flash);
    await s.setSessionFlash("a", undefined);
    expect(await s.getSession("a", at(31))).not.toHaveProperty("flash");
    // Its token removed: the session is no more.
    expect(await s.removeTokens(["tok-viewer"])).toBe(1);
    expect(await s.getSession("v", at(1))).toBeUndefined();
    // Ended (logout): once.
    expect(await s.endSession("a")).toBe(true);
    expect(await s.endSession("a")).toBe(false);
    expect(await s.getSession("a", at(31))).toBeUndefined();
  });

  test("pruneSessions: the ended, those of removed tokens, then the least recently used past `keep`", async () => {
    const { s } = await fresh();
    await s.addToken(sessionToken("tok-admin"));
    await s.addToken(sessionToken("tok-gone"));
    await s.addSession(session("ended", 0)); // ends at 60
    await s.addSession(session("orphan", 50, { tokenId: "tok-gone" }));
    for (let i = 0; i < 4; i++) await s.addSession(session(`live${i}`, 40 + i));
    await s.touchSession("live0", at(55), at(115)); // the most recently used now
    await s.removeTokens(["tok-gone"]);
    expect(await s.pruneSessions(at(60), 10)).toBe(2);
    expect(await s.getSession("live1", at(60))).toBeDefined();
    expect(await s.pruneSessions(at(60), 2)).toBe(2); // live1 and live2 were used least recently
    const left = [];
    for (const id of ["ended", "orphan", "live0", "live1", "live2", "live3"])
      if (await s.getSession(id, at(60))) left.push(id);
    expect(left).toEqual(["live0", "live3"]);
    expect(await s.pruneSessions(at(60), 2)).toBe(0);
  });
}

/** Sessions shared by every store on the database, with no notification. */
export function sessionsSharedContract(fresh: Fresh, factory: StoreFactory): void {
  test("sessions: one store's session is read, used and ended through another on the database; no notification", async () => {
    const { s, another } = await fresh();
    const b = await another();
    const told: string[] = [];
    await s.subscribe((what) => told.push(what));
    await b.subscribe((what) => told.push(what));
    await s.addToken(sessionToken("tok-admin"));
    await eventually(() => told.length >= (factory.sharedNotifications ? 2 : 1));
    told.length = 0;
    await s.addSession(session("a", 0));
    expect(await b.getSession("a", at(1))).toEqual(session("a", 0));
    await b.touchSession("a", at(10), at(70));
    await b.setSessionFlash("a", { ok: true, text: "done" });
    expect(await s.getSession("a", at(65))).toEqual(
      session("a", 0, { lastUsed: at(10), expires: at(70), flash: { ok: true, text: "done" } }),
    );
    expect(await b.endSession("a")).toBe(true);
    expect(await s.getSession("a", at(11))).toBeUndefined();
    await s.addSession(session("kept", 0));
    await s.pruneSessions(at(1), 10);
    // Session writes notify nobody (no cache holds them); the next write is told first.
    await s.putSetting("after", "1");
    await eventually(() => told.length >= (factory.sharedNotifications ? 2 : 1));
    await Bun.sleep(100);
    expect(told).toEqual(
      factory.sharedNotifications ? ["setting:after", "setting:after"] : ["setting:after"],
    );
    await s.close();
    const c = await another();
    expect(await c.getSession("kept", at(1))).toEqual(session("kept", 0));
  });
}
