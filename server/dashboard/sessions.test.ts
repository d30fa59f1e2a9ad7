/**
 * Dashboard sessions live in the store: two servers in-process on one SQLite file (two replicas, as on
 * PostgreSQL: test/dashboard_replicas.test.ts runs real ones) share them: log in on one, use and log out on
 * the other, a form's result shown by the other, a removed token ends the session on both. A session's use
 * is written at most once a minute; ended sessions are deleted at the next login.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, CONFIG_YAML, type Harness, harness } from "../test_harness.ts";
import { SESSION_IDLE_MS, TOUCH_MS } from "./sessions.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-sessions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const START = "2026-11-23T05:00:00Z";
const VERSION_YAML = `kind: autoupdate_version
spec:
  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: regular, mode: enabled }
`;

/** Two servers on one database file, their clocks moved together. */
async function replicas(): Promise<{ a: Harness; b: Harness; advance: (ms: number) => void }> {
  const db = join(dir, `store-${++n}.db`);
  const a = await harness({ start: START, db });
  const b = await harness({ start: START, db });
  for (const [kind, yaml] of [
    ["autoupdate_config", CONFIG_YAML],
    ["autoupdate_version", VERSION_YAML],
  ] as const)
    expect(
      (await a.req("PUT", `/v1/resources/${kind}?force=1`, yaml, ADMIN, "application/yaml")).status,
    ).toBe(200);
  await b.rollout.load();
  return {
    a,
    b,
    advance: (ms) => {
      a.clock.advance(ms);
      b.clock.advance(ms);
    },
  };
}

async function login(h: Harness, token: string): Promise<string> {
  const r = await h.app.request("http://upkeep.test/dashboard/login", {
    method: "POST",
    body: new URLSearchParams({ token }),
  });
  expect(r.status).toBe(303);
  return (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

const get = (h: Harness, path: string, cookie: string) => h.app.request(path, { headers: { cookie } });
const post = (h: Harness, path: string, cookie: string, form: Record<string, string>) =>
  h.app.request(path, { method: "POST", body: new URLSearchParams(form), headers: { cookie } });

async function csrfOf(h: Harness, cookie: string): Promise<string> {
  const page = await (await get(h, "/dashboard", cookie)).text();
  return /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1] ?? "";
}

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const idOf = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);

describe("sessions in the store", () => {
  test("log in on one server, use it on another; a form's result shows there; logout there ends it here", async () => {
    const { a, b } = await replicas();
    const cookie = await login(a, ADMIN);
    expect((await get(b, "/dashboard", cookie)).status).toBe(200);
    expect((await get(b, "/dashboard/live", cookie)).status).toBe(200);
    // The CSRF token is the session's, whichever server shows the page.
    const csrf = await csrfOf(b, cookie);
    expect(csrf).toBe(await csrfOf(a, cookie));
    // A form sent without the script to A; the page after it is served by B, with the result, once.
    const done = await post(a, "/dashboard/groups/canary/start", cookie, { csrf, confirmed: "1" });
    expect([done.status, done.headers.get("location")]).toEqual([303, "/dashboard"]);
    expect(await (await get(b, "/dashboard", cookie)).text()).toMatch(
      /<div id="result" role="status" aria-live="polite" class="ok">group canary: /,
    );
    expect(await (await get(a, "/dashboard", cookie)).text()).toContain(
      '<div id="result" role="status" aria-live="polite"></div>',
    );
    // Logout on B: A no longer knows the session.
    expect((await post(b, "/dashboard/logout", cookie, { csrf })).status).toBe(303);
    expect((await get(a, "/dashboard", cookie)).headers.get("location")).toBe("/dashboard/login");
    expect((await get(a, "/dashboard/live", cookie)).status).toBe(401);
  });

  test("a token removed through one server ends its sessions on both", async () => {
    const { a, b } = await replicas();
    const created = (await (await a.req("POST", "/v1/tokens", { type: "viewer" })).json()) as {
      token: string;
    };
    const list = (await (await a.req("GET", "/v1/tokens")).json()) as {
      tokens: { id: string; type: string; name: string }[];
    };
    const id = list.tokens.find((t) => t.type === "viewer" && t.name === "viewer")?.id ?? "";
    const cookie = await login(a, created.token);
    expect((await get(b, "/dashboard", cookie)).status).toBe(200);
    expect((await b.req("DELETE", `/v1/tokens/${id}`)).status).toBe(200);
    expect((await get(a, "/dashboard", cookie)).status).toBe(303);
    expect((await get(b, "/dashboard", cookie)).status).toBe(303);
  });

  test("a session's use is written at most once a minute, however often it is used", async () => {
    const { a, b, advance } = await replicas();
    const cookie = await login(a, ADMIN);
    let touches = 0;
    for (const h of [a, b]) {
      const touch = h.store.touchSession.bind(h.store);
      h.store.touchSession = (...args) => {
        touches++;
        return touch(...args);
      };
    }
    // An open page polls every 2 s, on either server: no write for a minute.
    for (let i = 0; i < 29; i++) {
      advance(2_000);
      expect((await get(i % 2 ? a : b, "/dashboard/live", cookie)).status).toBe(200);
    }
    expect(touches).toBe(0);
    advance(TOUCH_MS - 58_000);
    expect((await get(b, "/dashboard/live", cookie)).status).toBe(200);
    expect(touches).toBe(1);
    for (let i = 0; i < 10; i++) expect((await get(a, "/dashboard/live", cookie)).status).toBe(200);
    expect(touches).toBe(1);
    // The written use counts: an hour after it (not after login), the session still holds.
    advance(SESSION_IDLE_MS - 1_000);
    expect((await get(a, "/dashboard/live", cookie)).status).toBe(200);
    expect(touches).toBe(2);
  });

  test("ended sessions are deleted at the next login", async () => {
    const { a, advance } = await replicas();
    const first = await login(a, ADMIN);
    const key = sha256(idOf(first));
    const loginTime = a.clock.now.toISOString();
    expect(await a.store.getSession(key, loginTime)).toBeDefined();
    advance(SESSION_IDLE_MS + 1);
    expect((await get(a, "/dashboard", first)).status).toBe(303);
    // Still stored until a login prunes (asked as of the login time, it would answer).
    expect(await a.store.getSession(key, loginTime)).toBeDefined();
    await login(a, ADMIN);
    expect(await a.store.getSession(key, loginTime)).toBeUndefined();
  });
});
