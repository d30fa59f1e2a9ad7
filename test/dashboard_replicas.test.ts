/**
 * Dashboard sessions across replicas (issue 15), on the compiled `dist/upkeep`: two `serve --store
 * postgres://...` on one throwaway PostgreSQL (pg_harness.ts), driven by plain HTTP form posts (no browser).
 * Log in on A and use the cookie on B (pages, live refresh, the CSRF token); logout on B ends it on A; a
 * token removed through B ends its session on both; a session survives a replica's restart. The table holds
 * the sha256 of the session id, never the id or the token, and polling writes nothing. Skipped with a
 * message without PostgreSQL; under CI it must run.
 */
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { type ServeProcess, usePgServes } from "./serve_process.ts";

const ADMIN = "admin-token-dashboard-replicas";
const AGENT = "agent-token-dashboard-replicas";
const ENV = { UPKEEP_ADMIN_TOKEN: ADMIN, UPKEEP_AGENT_TOKEN: AGENT };

const world = usePgServes("test/dashboard_replicas.test.ts", ENV);
const skip = world.skip;

/** A replica on the database, in a data dir of its own (or `dir`: a restart). */
async function serve(url: string, dir?: string): Promise<ServeProcess & { dir: string }> {
  const d = dir ?? world.tmp("upkeep-dash-replica-");
  const s = await world.serve(d, ["--store", url]);
  return { ...s, dir: d };
}

/** POST /dashboard/login with the token as a form; answers the session cookie (name=value). */
async function login(s: ServeProcess, token: string): Promise<string> {
  const r = await fetch(`${s.url}/dashboard/login`, {
    method: "POST",
    body: new URLSearchParams({ token }),
    redirect: "manual",
  });
  expect([r.status, r.headers.get("location")]).toEqual([303, "/dashboard"]);
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  expect(cookie).toMatch(/^upkeep_session=[A-Za-z0-9_-]{43}$/);
  return cookie;
}

const get = (s: ServeProcess, path: string, cookie: string) =>
  fetch(`${s.url}${path}`, { headers: { cookie }, redirect: "manual" });

async function csrfOf(s: ServeProcess, cookie: string): Promise<string> {
  const r = await get(s, "/dashboard", cookie);
  expect(r.status).toBe(200);
  return /<meta name="csrf-token" content="([^"]+)">/.exec(await r.text())?.[1] ?? "";
}

const logout = (s: ServeProcess, cookie: string, csrf: string) =>
  fetch(`${s.url}/dashboard/logout`, {
    method: "POST",
    body: new URLSearchParams({ csrf }),
    headers: { cookie },
    redirect: "manual",
  });

/** Whether the cookie is a live session on that replica: 200 on the page, or the redirect to log in. */
async function loggedIn(s: ServeProcess, cookie: string): Promise<boolean> {
  const r = await get(s, "/dashboard", cookie);
  await r.body?.cancel();
  if (r.status === 303) {
    expect(r.headers.get("location")).toBe("/dashboard/login");
    return false;
  }
  expect(r.status).toBe(200);
  return true;
}

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

describe.skipIf(skip)("dashboard sessions on two replicas (PostgreSQL)", () => {
  test("log in on A, use it on B; logout on B ends it on A; a removed token ends it on both; restarts keep it", async () => {
    const url = await world.pg().createDatabase();
    const a = await serve(url);
    const b = await serve(url);

    // Log in on A; the cookie works on B: the page, the live refresh, the same CSRF token.
    const cookie = await login(a, ADMIN);
    expect(await loggedIn(b, cookie)).toBe(true);
    const live = await get(b, "/dashboard/live", cookie);
    expect(live.status).toBe(200);
    expect(Object.keys(((await live.json()) as { sections: object }).sections)).toContain("groups");
    const csrf = await csrfOf(b, cookie);
    expect(csrf).toBe(await csrfOf(a, cookie));

    // The table: the sha256 of the id, never the id nor the token; polling on both wrote no use.
    const db = new SQL(url);
    try {
      const id = cookie.slice(cookie.indexOf("=") + 1);
      const rows = await db`SELECT * FROM sessions`;
      expect(rows.map((r: { id_hash: string }) => r.id_hash)).toEqual([sha256(id)]);
      const stored = JSON.stringify(rows);
      expect(stored).not.toContain(id);
      expect(stored).not.toContain(ADMIN);
      for (let i = 0; i < 10; i++)
        for (const s of [a, b]) expect((await get(s, "/dashboard/live", cookie)).status).toBe(200);
      const [row] = await db`SELECT created, last_used FROM sessions`;
      expect(row.last_used).toBe(row.created);
    } finally {
      await db.close();
    }

    // A replica restarted (A): the session holds there (it is in the database, not in A's memory).
    expect(await a.stop()).toBe(0);
    const a2 = await serve(url, a.dir);
    expect(await loggedIn(a2, cookie)).toBe(true);

    // Logout on B: A no longer knows the session; its live refresh answers 401.
    const out = await logout(b, cookie, csrf);
    expect([out.status, out.headers.get("location")]).toEqual([303, "/dashboard/login"]);
    expect(await loggedIn(a2, cookie)).toBe(false);
    expect((await get(a2, "/dashboard/live", cookie)).status).toBe(401);
    expect(await loggedIn(b, cookie)).toBe(false);

    // A viewer token made on A, a session opened with it on A, used on B; the token removed through B.
    const made = await fetch(`${a2.url}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "viewer", name: "ops-viewer" }),
    });
    expect(made.status).toBe(201);
    const viewer = ((await made.json()) as { token: string }).token;
    const vcookie = await login(a2, viewer);
    const admin2 = await login(b, ADMIN);
    expect([await loggedIn(a2, vcookie), await loggedIn(b, vcookie)]).toEqual([true, true]);
    const list = (await (
      await fetch(`${b.url}/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { tokens: { id: string; name: string }[] };
    const tokenId = list.tokens.find((t) => t.name === "ops-viewer")?.id;
    expect(tokenId).toBeDefined();
    const del = await fetch(`${b.url}/v1/tokens/${tokenId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(del.status).toBe(200);
    expect([await loggedIn(a2, vcookie), await loggedIn(b, vcookie)]).toEqual([false, false]);
    // Other sessions go on.
    expect([await loggedIn(a2, admin2), await loggedIn(b, admin2)]).toEqual([true, true]);
  }, 120_000);
});
