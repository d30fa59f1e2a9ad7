/**
 * The dashboard's routes in-process (server/test_harness.ts: in-memory store, fake clock): login and the
 * session cookie, expiry, revocation, CSRF and same-origin checks, viewer refusals, the confirmation page
 * of a form sent without the script, the live refresh's 304, the hosts' report history, escaping.
 */
import { describe, expect, test } from "bun:test";
import { ADMIN, AGENT, CONFIG_YAML, type Harness, harness, VIEWER } from "../test_harness.ts";
import { Sessions } from "./sessions.ts";

const VERSION_YAML = `kind: autoupdate_version
spec:
  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: regular, mode: enabled }
`;

async function world(): Promise<Harness> {
  // 05:00 UTC: before both groups' windows (canary 08:00, prod 09:00), so nothing starts on its own.
  const h = await harness({ start: "2026-11-23T05:00:00Z" });
  expect(
    (await h.req("PUT", "/v1/resources/autoupdate_config", CONFIG_YAML, ADMIN, "application/yaml")).status,
  ).toBe(200);
  const v = await h.req(
    "PUT",
    "/v1/resources/autoupdate_version?force=1",
    VERSION_YAML,
    ADMIN,
    "application/yaml",
  );
  expect(v.status).toBe(200);
  for (const [id, group] of [
    ["c1", "canary"],
    ["p1", "prod"],
    ["p2", "prod"],
  ])
    await report(h, { updater_id: id, hostname: `host-${id}`, group, version: "16.4.0", state: "ok" });
  return h;
}

const report = (h: Harness, body: Record<string, unknown>) => h.req("POST", "/v1/agents/report", body, AGENT);

async function login(h: Harness, token: string, url = "http://upkeep.test/dashboard/login") {
  const r = await h.app.request(url, { method: "POST", body: new URLSearchParams({ token }) });
  const setCookie = r.headers.get("set-cookie") ?? "";
  return { r, setCookie, cookie: setCookie.split(";")[0] ?? "" };
}

const get = (h: Harness, path: string, cookie: string, headers: Record<string, string> = {}) =>
  h.app.request(path, { headers: { cookie, ...headers } });

async function csrfOf(h: Harness, cookie: string): Promise<string> {
  const page = await (await get(h, "/dashboard", cookie)).text();
  return /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1] ?? "";
}

function post(
  h: Harness,
  path: string,
  cookie: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return h.app.request(path, {
    method: "POST",
    body: new URLSearchParams(form),
    headers: { cookie, ...headers },
  });
}

const JSON_ACCEPT = { accept: "application/json" };

describe("login and the session cookie", () => {
  test("an admin token: a random session id in an HttpOnly, SameSite=Strict cookie; never the token", async () => {
    const h = await world();
    const { r, setCookie, cookie } = await login(h, ADMIN);
    expect([r.status, r.headers.get("location")]).toEqual([303, "/dashboard"]);
    expect(setCookie).toMatch(
      /^upkeep_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/dashboard; HttpOnly; SameSite=Strict$/,
    );
    expect(setCookie).not.toContain(ADMIN);
    const page = await get(h, "/dashboard", cookie);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).not.toContain(ADMIN);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(h.logs.join("\n")).not.toContain(ADMIN);
  });

  test("over TLS the cookie is Secure", async () => {
    const h = await world();
    const { setCookie } = await login(h, ADMIN, "https://upkeep.test/dashboard/login");
    expect(setCookie).toContain("; Secure");
  });

  test("refused: no token (400), an unknown token (401), an agent token (403); no cookie", async () => {
    const h = await world();
    for (const [token, status, words] of [
      ["", 400, "enter a token"],
      ["nope", 401, "this token is not valid on this server"],
      [AGENT, 403, "an agent token only sends reports"],
    ] as const) {
      const { r, setCookie } = await login(h, token);
      expect([r.status, setCookie]).toEqual([status, ""]);
      expect(await r.text()).toContain(words);
    }
  });

  test("a session ends after an hour unused, 12 hours after login however used, and with its token", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    h.clock.advance(59 * 60_000);
    expect((await get(h, "/dashboard", cookie)).status).toBe(200);
    h.clock.advance(61 * 60_000);
    expect((await get(h, "/dashboard", cookie)).headers.get("location")).toBe("/dashboard/login");

    const used = (await login(h, ADMIN)).cookie;
    for (let i = 0; i < 23; i++) {
      h.clock.advance(30 * 60_000);
      expect((await get(h, "/dashboard/live", used)).status).toBe(200);
    }
    h.clock.advance(31 * 60_000);
    expect((await get(h, "/dashboard/live", used)).status).toBe(401);

    const created = (await (await h.req("POST", "/v1/tokens", { type: "viewer" })).json()) as {
      token: string;
    };
    const viewer = (await login(h, created.token)).cookie;
    expect((await get(h, "/dashboard", viewer)).status).toBe(200);
    const list = (await (await h.req("GET", "/v1/tokens")).json()) as {
      tokens: { id: string; type: string; name: string }[];
    };
    const id = list.tokens.find((t) => t.type === "viewer" && t.name === "viewer")?.id ?? "";
    expect((await h.req("DELETE", `/v1/tokens/${id}`)).status).toBe(200);
    expect((await get(h, "/dashboard", viewer)).status).toBe(303);
  });

  test("logout needs the CSRF token, ends the session and clears the cookie", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const csrf = await csrfOf(h, cookie);
    expect((await post(h, "/dashboard/logout", cookie, { csrf: "x".repeat(csrf.length) })).status).toBe(403);
    expect((await get(h, "/dashboard", cookie)).status).toBe(200);
    const out = await post(h, "/dashboard/logout", cookie, { csrf });
    expect([out.status, out.headers.get("location")]).toEqual([303, "/dashboard/login"]);
    expect(out.headers.get("set-cookie")).toContain("upkeep_session=; Max-Age=0");
    expect((await get(h, "/dashboard", cookie)).status).toBe(303);
  });

  test("at most MAX sessions: the least recently used ends first", () => {
    let now = 0;
    const s = new Sessions(() => now, 2);
    const a = s.create("admin", "h").id;
    now++;
    const b = s.create("admin", "h").id;
    now++;
    s.get(a);
    s.create("viewer", "h");
    expect([s.get(a)?.kind, s.get(b), s.size]).toEqual(["admin", undefined, 2]);
  });
});

describe("actions", () => {
  test("need the session's CSRF token, the same origin, and an admin session", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const csrf = await csrfOf(h, cookie);
    const force = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      post(
        h,
        "/dashboard/groups/prod/force",
        cookie,
        { confirmed: "1", ...form },
        { ...JSON_ACCEPT, ...headers },
      );
    for (const [form, headers, status] of [
      [{}, {}, 403],
      [{ csrf: `${csrf.slice(0, -1)}${csrf.endsWith("A") ? "B" : "A"}` }, {}, 403],
      [{ csrf: "short" }, {}, 403],
      [{ csrf }, { origin: "https://evil.example" }, 403],
      [{ csrf }, { "sec-fetch-site": "cross-site" }, 403],
    ] as [Record<string, string>, Record<string, string>, number][]) {
      expect((await force(form, headers)).status).toBe(status);
    }
    expect(
      ((await (await h.req("GET", "/v1/rollout")).json()) as { groups: { state: string }[] }).groups[1]
        ?.state,
    ).toBe("unstarted");
    const ok = await force({}, { "x-csrf-token": csrf, origin: "http://localhost" });
    expect(await ok.json()).toEqual({ ok: true, message: expect.stringMatching(/^group prod: active \(/) });

    const viewer = (await login(h, VIEWER)).cookie;
    const vcsrf = await csrfOf(h, viewer);
    const page = await (await get(h, "/dashboard", viewer)).text();
    expect(page).not.toContain('class="act"');
    const r = await post(
      h,
      "/dashboard/groups/canary/done",
      viewer,
      { csrf: vcsrf, confirmed: "1" },
      JSON_ACCEPT,
    );
    expect([r.status, ((await r.json()) as { error: string }).error]).toEqual([
      403,
      "this is a viewer session (read-only): log in with an admin token to act",
    ]);
  });

  test("without the script: a confirmation page first, then the result on the page (flash)", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const csrf = await csrfOf(h, cookie);
    const ask = await post(h, "/dashboard/groups/canary/start", cookie, { csrf });
    const text = await ask.text();
    expect(ask.status).toBe(200);
    expect(text).toContain(
      "upkeep admin rollout start canary: start a group now (order and wait_hours still hold; canaries first if configured).",
    );
    expect(text).toContain('name="confirmed" value="1"');
    expect(
      ((await (await h.req("GET", "/v1/rollout")).json()) as { groups: { state: string }[] }).groups[0]
        ?.state,
    ).toBe("unstarted");
    const done = await post(h, "/dashboard/groups/canary/start", cookie, { csrf, confirmed: "1" });
    expect([done.status, done.headers.get("location")]).toEqual([303, "/dashboard"]);
    const page = await (await get(h, "/dashboard", cookie)).text();
    expect(page).toMatch(
      /<div id="result" role="status" aria-live="polite" class="ok">group canary: canary \(/,
    );
    expect(await (await get(h, "/dashboard", cookie)).text()).toContain(
      '<div id="result" role="status" aria-live="polite"></div>',
    );
  });

  test("a refused action answers its status and why (409), as the API does", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const csrf = await csrfOf(h, cookie);
    const r = await post(h, "/dashboard/groups/prod/start", cookie, { csrf, confirmed: "1" }, JSON_ACCEPT);
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({
      ok: false,
      message:
        "refused (409): cannot start group prod: earlier group canary is unstarted, not done; use force to start it anyway",
    });
    const unknown = await post(
      h,
      "/dashboard/groups/nope/start",
      cookie,
      { csrf, confirmed: "1" },
      JSON_ACCEPT,
    );
    expect(unknown.status).toBe(404);
    const bad = await post(
      h,
      "/dashboard/groups/prod/explode",
      cookie,
      { csrf, confirmed: "1" },
      JSON_ACCEPT,
    );
    expect(bad.status).toBe(404);
  });

  test("release critical on and off", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const csrf = await csrfOf(h, cookie);
    const on = await post(
      h,
      "/dashboard/critical",
      cookie,
      { csrf, confirmed: "1", version: "v17.0.1", critical: "true" },
      JSON_ACCEPT,
    );
    expect(await on.json()).toEqual({ ok: true, message: "critical releases: 17.0.1" });
    const off = await post(
      h,
      "/dashboard/critical",
      cookie,
      { csrf, confirmed: "1", version: "17.0.1", critical: "false" },
      JSON_ACCEPT,
    );
    expect(await off.json()).toEqual({ ok: true, message: "critical releases: none" });
    const bad = await post(
      h,
      "/dashboard/critical",
      cookie,
      { csrf, confirmed: "1", version: "one", critical: "true" },
      JSON_ACCEPT,
    );
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([
      400,
      "version: must be a semver version",
    ]);
  });
});

describe("what the page shows", () => {
  test("a fresh server (no rollout, no agents): the page says so; an action is refused with why", async () => {
    const h = await harness();
    const { cookie } = await login(h, ADMIN);
    const page = await (await get(h, "/dashboard", cookie)).text();
    expect(page).toContain("no rollout: set autoupdate_version spec.agents");
    expect(page).toContain("0 shown of 0 matching hosts");
    expect(page).toContain("none published: hosts install nothing");
    const csrf = await csrfOf(h, cookie);
    const r = await post(h, "/dashboard/groups/default/start", cookie, { csrf, confirmed: "1" }, JSON_ACCEPT);
    expect([r.status, ((await r.json()) as { message: string }).message]).toEqual([
      409,
      "refused (409): no rollout in progress: set autoupdate_version spec.agents first",
    ]);
  });

  test("live: 304 while nothing changed, the new sections after a change", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const first = await get(h, "/dashboard/live", cookie);
    const body = (await first.json()) as { stamp: string; sections: Record<string, string> };
    expect(Object.keys(body.sections)).toEqual(["summary", "groups", "chart", "hosts", "events"]);
    expect((await get(h, "/dashboard/live", cookie, { "if-none-match": body.stamp })).status).toBe(304);
    await report(h, { updater_id: "p3", hostname: "host-p3", group: "prod", version: "16.4.0", state: "ok" });
    const next = await get(h, "/dashboard/live", cookie, { "if-none-match": body.stamp });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { sections: { hosts: string } }).sections.hosts).toContain("host-p3");
  });

  test("a host's recent reports, from every report the server accepted", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    await report(h, { updater_id: "p1", hostname: "host-p1", group: "prod", version: "16.4.0", state: "ok" });
    h.clock.advance(60_000);
    await report(h, {
      updater_id: "p1",
      hostname: "host-p1",
      group: "prod",
      version: "17.0.1",
      state: "failed",
      error: "boom",
      failed_version: "17.0.1",
    });
    expect(
      (await report(h, { updater_id: "p1", hostname: "host-p1", version: "nope", state: "ok" })).status,
    ).toBe(400);
    const page = await (await get(h, "/dashboard/hosts/p1", cookie)).text();
    const rows = [
      ...page.matchAll(
        /<tr><td>[^<]+<\/td><td>[^<]+<\/td><td class="num">(\d+)<\/td><td>prod<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td>/g,
      ),
    ].map((m) => m.slice(1));
    expect(rows).toEqual([
      ["1", "17.0.1", "failed"],
      ["2", "16.4.0", "ok"],
    ]);
    expect((await get(h, "/dashboard/hosts/nobody", cookie)).status).toBe(404);
  });

  test("the Hosts table and a host's page show the updater's version and a failed self-update", async () => {
    const h = await world();
    const { cookie } = await login(h, VIEWER);
    await report(h, {
      ...{ updater_id: "p1", hostname: "host-p1", group: "prod", version: "16.4.0", state: "ok" },
      ...{ updater_version: "0.2.0", updater_failed_version: "0.3.0" },
    });
    const page = await (await get(h, "/dashboard", cookie)).text();
    expect(page).toContain('<th scope="col">Updater</th>');
    const row = /<tr class="[^"]*" data-host="host-p1">[\s\S]*?<\/tr>/.exec(page)?.[0] ?? "";
    expect(row).toContain('<td class="updater">0.2.0 <span class="error">(0.3.0 failed)</span></td>');
    // An agent too old to say: an empty cell.
    const old = /<tr class="[^"]*" data-host="host-p2">[\s\S]*?<\/tr>/.exec(page)?.[0] ?? "";
    expect(old).toContain('<td class="updater"></td>');
    const host = await (await get(h, "/dashboard/hosts/p1", cookie)).text();
    expect(host).toContain(
      '<dt>Updater (upkeep)</dt><dd>0.2.0 <span class="error">(0.3.0 failed)</span></dd>',
    );
  });

  test("text from agents is escaped (markup, control and bidi characters); a bad filter is refused", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    await report(h, {
      updater_id: "x1",
      hostname: '<img src=x onerror="alert(1)">\u202e',
      group: "prod",
      version: "16.4.0",
      state: "failed",
      error: "</td><script>alert(1)</script>",
    });
    const page = await (await get(h, "/dashboard", cookie)).text();
    expect(page).not.toContain("<img src=x");
    expect(page).not.toContain("<script>alert");
    expect(page).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;\\u202e");
    const bad = await get(h, "/dashboard?state=exploded", cookie);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("hosts filter state: must be one of ok, updating, failed, rolledback");
  });

  test("hosts: filtered and paged on the server", async () => {
    const h = await world();
    const { cookie } = await login(h, ADMIN);
    const hosts = async (q: string) => {
      const body = (await (await get(h, `/dashboard/live${q}`, cookie)).json()) as {
        sections: { hosts: string };
      };
      return [...body.sections.hosts.matchAll(/data-host="([^"]+)"/g)].map((m) => m[1]);
    };
    expect(await hosts("")).toEqual(["host-c1", "host-p1", "host-p2"]);
    expect(await hosts("?group=prod")).toEqual(["host-p1", "host-p2"]);
    expect(await hosts("?group=prod&limit=1")).toEqual(["host-p1"]);
    expect(await hosts("?group=prod&limit=1&cursor=p1")).toEqual(["host-p2"]);
    expect(await hosts("?hostname=HOST-C")).toEqual(["host-c1"]);
  });

  test("a page reads one page of hosts and the canaries from the store, never every agent", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" }); // canary's window is open: one canary
    const many = Array.from({ length: 300 }, (_, i) => `q${String(i).padStart(3, "0")}`);
    await Promise.all(
      [["c1", "canary"], ["c2", "canary"], ...many.map((id) => [id, "prod"])].map(([id, group]) =>
        report(h, { updater_id: id, hostname: `host-${id}`, group, version: "16.4.0", state: "ok" }),
      ),
    );
    for (const [kind, yaml] of [
      ["autoupdate_config", CONFIG_YAML],
      ["autoupdate_version", VERSION_YAML],
    ] as const)
      expect(
        (await h.req("PUT", `/v1/resources/${kind}?force=1`, yaml, ADMIN, "application/yaml")).status,
      ).toBe(200);
    const { cookie } = await login(h, ADMIN);
    // The report history starts from every stored report, read once (here by the reports above).
    expect((await get(h, "/dashboard", cookie)).status).toBe(200);
    const reads = { all: 0, rows: 0 };
    const { store } = h;
    const list = store.listAgents.bind(store);
    const query = store.queryAgents.bind(store);
    store.listAgents = async (o) => {
      const r = await list(o);
      reads.all++;
      reads.rows += r.length;
      return r;
    };
    store.queryAgents = async (q) => {
      const r = await query(q);
      reads.rows += r.agents.length;
      return r;
    };
    const shows = async (path: string, ...texts: string[]) => {
      reads.all = 0;
      reads.rows = 0;
      const r = await get(h, path, cookie);
      expect(r.status).toBe(200);
      const body = await r.text();
      for (const t of texts) expect(body).toContain(t);
      // The page of hosts (at most 50) and the one canary; never the 302 agents.
      expect(reads).toMatchObject({ all: 0 });
      expect(reads.rows).toBeLessThanOrEqual(51);
    };
    await shows("/dashboard", "50 shown of 302 matching hosts", '<td class="num">300</td>', "host-c");
    await shows("/dashboard/live?group=prod&hostname=HOST-Q1", "50 shown of 100 matching hosts");
    await shows("/dashboard/live?limit=10&cursor=q100", "10 shown of 302 matching hosts", "host-q101");
    await shows("/dashboard/hosts/q007", "host-q007");
  });
});
