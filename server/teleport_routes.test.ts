/**
 * The routes a Teleport client or updater calls beyond find/ping: the canary's updater id under Teleport's
 * name (`update_id`), ping with a connector name, and RFD 109's channel answers for v1 updaters, all from the
 * same decisions as find.
 */
import { describe, expect, test } from "bun:test";
import { AGENT, CONFIG_YAML, type Harness, harness, publishManifest } from "./test_harness.ts";

async function ok(r: Response | Promise<Response>): Promise<Response> {
  const res = await r;
  expect(res.status, await res.clone().text()).toBe(200);
  return res;
}

async function report(h: Harness, id: string, group: string, version: string) {
  const body = { updater_id: id, hostname: `${id}.local`, group, version, state: "ok" };
  await ok(h.req("POST", "/v1/agents/report", body, AGENT));
}

/** The canary group (window open at 08:30, one canary) and prod (unstarted); agents c1 and p1 on 16.4.0. */
async function rollout(schedule = "regular"): Promise<Harness> {
  const h = await harness({ start: "2026-11-23T08:30:00Z" });
  await report(h, "c1", "canary", "16.4.0");
  await report(h, "p1", "prod", "16.4.0");
  await publishManifest(h, ["16.4.0", "17.0.1"]);
  await ok(h.req("PUT", "/v1/resources/autoupdate_config", CONFIG_YAML, undefined, "application/yaml"));
  await ok(
    h.req("PUT", "/v1/resources/autoupdate_version", {
      kind: "autoupdate_version",
      spec: { agents: { start_version: "16.4.0", target_version: "17.0.1", schedule, mode: "enabled" } },
    }),
  );
  return h;
}

type Told = {
  auto_update: { agent_version: string; agent_auto_update: boolean };
  upkeep: { canary: boolean };
};

async function told(h: Harness, query: string, path = "/v1/webapi/find"): Promise<Told> {
  return (await (await ok(h.app.request(`${path}?${query}`))).json()) as Told;
}

describe("the canary's updater id", () => {
  test("Teleport's update_id (teleport-update 17.7+) names the canary as updater_id does", async () => {
    const h = await rollout();
    const canary = { agent_version: "17.0.1", agent_auto_update: true };
    const other = { agent_version: "16.4.0", agent_auto_update: false };
    expect((await told(h, "group=canary&updater_id=c1")).auto_update).toMatchObject(canary);
    expect((await told(h, "group=canary&update_id=c1")).auto_update).toMatchObject(canary);
    expect((await told(h, "group=canary&update_id=c1", "/webapi/ping")).auto_update).toMatchObject(canary);
    expect((await told(h, "group=canary")).auto_update).toMatchObject(other);
    expect((await told(h, "group=canary&update_id=x9")).auto_update).toMatchObject(other);
    // Both given: upkeep's own name wins.
    expect((await told(h, "group=canary&updater_id=x9&update_id=c1")).auto_update).toMatchObject(other);
  });
});

describe("/webapi/ping/:connector", () => {
  test("answers as ping, on both prefixes, whatever the connector", async () => {
    const h = await rollout();
    const ping = await (await ok(h.app.request("/webapi/ping?group=canary&update_id=c1"))).text();
    for (const path of ["/webapi/ping/github", "/v1/webapi/ping/okta-saml"]) {
      const r = await ok(h.app.request(`${path}?group=canary&update_id=c1`));
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(await r.text()).toBe(ping);
    }
  });
});

describe("RFD 109: /v1/webapi/automaticupgrades/channel/<channel>/{version,critical}", () => {
  const text = async (h: Harness, path: string) => {
    const r = await ok(h.app.request(path));
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    return r.text();
  };
  const channel = (h: Harness, name: string) =>
    Promise.all(
      ["version", "critical"].map((k) => text(h, `/v1/webapi/automaticupgrades/channel/${name}/${k}`)),
    );

  test("no version policy yet: none, and no", async () => {
    const h = await harness();
    expect(await channel(h, "default")).toEqual(["none", "no"]);
  });

  test("the group's find answer, v-prefixed: a group in its canary phase, an unstarted one, an unknown one", async () => {
    const h = await rollout();
    // Not a canary (no updater id): the start version, no update.
    expect(await channel(h, "canary")).toEqual(["v16.4.0", "no"]);
    expect(await channel(h, "prod")).toEqual(["v16.4.0", "no"]);
    // An unknown channel is the last group, as an unknown group is (a channel may contain '/').
    expect(await channel(h, "stable/cloud")).toEqual(["v16.4.0", "no"]);
    expect(await text(h, "/webapi/automaticupgrades/channel/prod/version")).toBe("v16.4.0");
  });

  test("told to update now is critical: yes (what Teleport answers with an agent rollout)", async () => {
    const h = await rollout("immediate");
    expect(await channel(h, "prod")).toEqual(["v17.0.1", "yes"]);
    expect(await channel(h, "canary")).toEqual(["v17.0.1", "yes"]);
  });

  test.each([
    ["/v1/webapi/automaticupgrades/channel/prod/latest", "must be"],
    ["/v1/webapi/automaticupgrades/channel/version", "a channel name is required"],
    ["/v1/webapi/automaticupgrades/channel//critical", "a channel name is required"],
    ["/v1/webapi/automaticupgrades/channel/%ff/version", "must be"],
  ])("%s: 400 in Teleport's error shape", async (path, says) => {
    const h = await rollout();
    const r = await h.app.request(path);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { message: string }; code: string };
    expect(body.error.message).toContain(says);
    expect(body.code).toBe("E_USAGE");
  });

  test("an answer that cannot be decided is a 500, never a version", async () => {
    const h = await rollout();
    h.clock.now = new Date(Number.NaN);
    const r = await h.app.request("/v1/webapi/automaticupgrades/channel/prod/version");
    expect(r.status).toBe(500);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
      "internal error: do not update",
    );
  });
});
