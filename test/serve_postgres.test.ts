/**
 * Issue 15, the store, on the compiled `dist/upkeep`: `serve --store postgres://...` (also UPKEEP_STORE and
 * `store:` in the config file) on a throwaway PostgreSQL (pg_harness.ts) answers and keeps its state across
 * a restart, never prints the password, takes no serve.lock; `serve migrate` copies a SQLite server's
 * state into PostgreSQL, where serve then gives the same answers. Skipped with a message without
 * PostgreSQL; under CI it must run.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { upkeep } from "./cli.ts";
import { type ServeProcess, usePgServes } from "./serve_process.ts";

const ADMIN = "admin-token-pg-test";
const AGENT = "agent-token-pg-test";
const ENV = { UPKEEP_ADMIN_TOKEN: ADMIN, UPKEEP_AGENT_TOKEN: AGENT };
const PASSWORD = "s3cret-pw-never-printed";

const world = usePgServes("test/serve_postgres.test.ts", ENV);
const skip = world.skip;
const tmp = () => world.tmp("upkeep-pg-e2e-");

/** A new empty database, as a URL with a password (trust authentication accepts it). */
async function database(): Promise<string> {
  const u = new URL(await world.pg().createDatabase());
  u.password = PASSWORD;
  return u.toString();
}

const serve = world.serve;

/** `upkeep serve --store STORE` in a new data dir, to its exit (for the refusals). */
const serveOnStore = (store: string) =>
  upkeep(["serve", "--data-dir", tmp(), "--listen", "127.0.0.1:0", "--store", store]);

const admin = { authorization: `Bearer ${ADMIN}` };

async function put(s: ServeProcess, kind: string, body: string): Promise<void> {
  const r = await fetch(`${s.url}/v1/resources/${kind}?force=1`, {
    method: "PUT",
    headers: { ...admin, "content-type": "application/yaml" },
    body,
  });
  expect(r.status).toBe(200);
}

async function report(s: ServeProcess, id: string, group: string, version: string): Promise<void> {
  const r = await fetch(`${s.url}/v1/agents/report`, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json" },
    body: JSON.stringify({ updater_id: id, hostname: `${id}.test`, group, version, state: "ok" }),
  });
  expect(r.status).toBe(200);
}

async function json(s: ServeProcess, path: string): Promise<unknown> {
  const r = await fetch(`${s.url}${path}`, { headers: admin });
  expect(r.status).toBe(200);
  return await r.json();
}

/** The "store=..." field of the listening line. */
function storeField(s: ServeProcess): string | undefined {
  return /listening .*store=(\S+)/.exec(s.stderr())?.[1];
}

describe.skipIf(skip)("serve on PostgreSQL", () => {
  test("--store URL: answers find, keeps a resource across a restart; no password shown, no serve.lock", async () => {
    const url = await database();
    const shown = url.replace(PASSWORD, "***");
    const dir = tmp();
    const s1 = await serve(dir, ["--store", url, "--server-version", "17.0.1"]);
    expect(storeField(s1)).toBe(shown);
    await put(
      s1,
      "autoupdate_version",
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: immediate }\n",
    );
    const find = async (s: ServeProcess) =>
      (
        (await (await fetch(`${s.url}/webapi/find?group=x`)).json()) as {
          auto_update: { agent_version: string };
        }
      ).auto_update.agent_version;
    expect(await find(s1)).toBe("17.0.1");
    // No serve.lock with PostgreSQL: replicas may even share a data dir (SQLite would refuse the second).
    expect(existsSync(join(dir, "serve.lock"))).toBe(false);
    const s1b = await serve(dir, ["--store", url]);
    expect(await find(s1b)).toBe("17.0.1");
    expect(await s1b.stop()).toBe(0);
    expect(await s1.stop()).toBe(0);

    // Started again from UPKEEP_STORE, another data dir: the state is the database's.
    const s2 = await serve(tmp(), [], { UPKEEP_STORE: url });
    expect(storeField(s2)).toBe(shown);
    expect(await find(s2)).toBe("17.0.1");
    expect(await json(s2, "/v1/resources/autoupdate_version")).toMatchObject({
      spec: { agents: { start_version: "16.4.0", target_version: "17.0.1" } },
    });
    expect(await s2.stop()).toBe(0);

    // And from `store:` in the config file.
    const cfgDir = tmp();
    const cfg = join(cfgDir, "serve.yaml");
    await Bun.write(cfg, `store: ${url}\n`);
    const s3 = await serve(join(cfgDir, "data"), ["--config", cfg]);
    expect(storeField(s3)).toBe(shown);
    expect(await find(s3)).toBe("17.0.1");
    expect(await s3.stop()).toBe(0);

    for (const s of [s1, s1b, s2, s3]) expect(`${s.stdout()}${s.stderr()}`).not.toContain(PASSWORD);
  }, 60_000);

  test("a bad --store is refused with exit 2 without echoing the password", async () => {
    const r = await serveOnStore(`mysql://u:${PASSWORD}@h/db`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--store");
    expect(r.stderr).not.toContain(PASSWORD);
    // A database that does not exist: refused at start, naming it with the password masked.
    const missing = new URL(world.pg().url);
    missing.password = PASSWORD;
    missing.pathname = "/no_such_db";
    const m = await serveOnStore(missing.toString());
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("no_such_db");
    expect(m.stderr).toContain(":***@");
    expect(m.stderr).not.toContain(PASSWORD);
  }, 60_000);

  test("serve migrate: a SQLite server's state into PostgreSQL, then the same answers there", async () => {
    const dir = tmp();
    const s = await serve(dir, ["--server-version", "1.1.0", "--reconcile-interval", "200ms"]);
    const closedHour = (new Date().getUTCHours() + 12) % 24; // windows stay closed: the operator drives
    await put(
      s,
      "autoupdate_config",
      `kind: autoupdate_config\nspec:\n  agents:\n    schedules:\n      regular:\n        - { name: canary, days: ["*"], start_hour: ${closedHour}, canary_count: 1 }\n        - { name: prod, days: ["*"], start_hour: ${closedHour} }\n`,
    );
    await put(
      s,
      "autoupdate_version",
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.1.0 }\n",
    );
    await report(s, "c1", "canary", "1.0.0");
    await report(s, "c2", "canary", "1.0.0");
    await report(s, "p1", "prod", "1.0.0");
    const start = await fetch(`${s.url}/v1/rollout/groups/canary/start`, { method: "POST", headers: admin });
    expect(start.status).toBe(200);
    await report(s, "c1", "canary", "1.0.0"); // a report reconciles: the canary is picked
    const viewer = (await (
      await fetch(`${s.url}/v1/tokens`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ type: "viewer", name: "dashboard" }),
      })
    ).json()) as { token: string };
    expect(viewer.token).toBeTruthy();
    const upload = await fetch(`${s.url}/v1/artifacts/notes.txt`, {
      method: "PUT",
      headers: admin,
      body: "hello",
    });
    expect(upload.status).toBe(201);

    const answers = async (x: ServeProcess) => ({
      find: await Promise.all(
        [
          ["canary", "c1"],
          ["canary", "c2"],
          ["prod", "p1"],
        ].map(
          async ([g, id]) => await (await fetch(`${x.url}/webapi/find?group=${g}&updater_id=${id}`)).json(),
        ),
      ),
      rollout: await json(x, "/v1/rollout"),
      agents: await json(x, "/v1/agents"),
      config: await json(x, "/v1/resources/autoupdate_config"),
      version: await json(x, "/v1/resources/autoupdate_version"),
      tokens: await json(x, "/v1/tokens"),
      artifact: await (await fetch(`${x.url}/artifacts/notes.txt`)).text(),
      viewerAllowed: (
        await fetch(`${x.url}/v1/agents`, { headers: { authorization: `Bearer ${viewer.token}` } })
      ).status,
    });
    const before = await answers(s);
    expect((before.rollout as { groups: { name: string; state: string }[] }).groups[0]?.state).toBe("canary");

    const url = await database();
    // Refused while the SQLite serve runs: its state would move on after the copy.
    const busy = await upkeep(["serve", "migrate", "--from", dir, "--to", url]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain("a serve is running on");
    expect(busy.stderr).toContain("E_LOCKED");
    expect(await s.stop()).toBe(0);

    const done = await upkeep(["serve", "migrate", "--from", dir, "--to", url]);
    expect(done.stderr).toBe("");
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`copied ${join(dir, "upkeep.db")} into ${url.replace(PASSWORD, "***")}`);
    expect(done.stdout).toMatch(
      /2 resources, 1 setting, 1 rollout, \d+ rollout events?, 3 agents, 3 tokens, 1 artifact/,
    );
    expect(done.stdout).not.toContain(PASSWORD);

    // A second copy into the now non-empty database: refused, naming what is there; --force replaces it.
    const again = await upkeep(["serve", "migrate", "--from", dir, "--to", url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("is not empty: it holds 2 resources, 1 setting, 1 rollout");
    expect(again.stderr).toContain("--force");
    const forced = await upkeep(["serve", "migrate", "--from", dir, "--to", url, "--force", "--json"]);
    expect(forced.code).toBe(0);
    const out = JSON.parse(forced.stdout) as {
      counts: Record<string, number>;
      replaced: Record<string, number>;
    };
    expect(out.counts).toMatchObject({ resources: 2, agents: 3, tokens: 3, artifacts: 1, rollout: 1 });
    expect(out.replaced).toEqual(out.counts);

    // serve on PostgreSQL (same data dir: the artifact files are there) answers as the SQLite server did.
    const p = await serve(dir, [
      "--store",
      url,
      "--server-version",
      "1.1.0",
      "--reconcile-interval",
      "200ms",
    ]);
    const after = await answers(p);
    expect(after).toEqual(before);
    // And the rollout goes on from there: the canary's report moves the group on.
    const canary = (before.rollout as { groups: { canaries: { updater_id: string }[] }[] }).groups[0]
      ?.canaries[0]?.updater_id as string;
    await report(p, canary, "canary", "1.1.0");
    const g = (await json(p, "/v1/rollout")) as { groups: { name: string; state: string }[] };
    expect(g.groups[0]?.state).toBe("active");
  }, 60_000);

  test("serve migrate refuses a data dir without a database, and a URL that is not PostgreSQL", async () => {
    const empty = await upkeep(["serve", "migrate", "--from", tmp(), "--to", "postgres://u@127.0.0.1:1/x"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("no upkeep.db there");
    const bad = await upkeep(["serve", "migrate", "--from", tmp(), "--to", "sqlite:///x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--to: not a postgres:// URL");
  });
});
