import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAutoupdateVersion } from "../core/resources/mod.ts";
import { resolveOptions } from "./serve_options.ts";
import type { Harness } from "./test_harness.ts";
import { ADMIN, AGENT, CONFIG_YAML, harness, ONE_GROUP, publishManifest, VIEWER } from "./test_harness.ts";

const VERSION = {
  kind: "autoupdate_version",
  spec: {
    tools: { target_version: "17.0.1" },
    agents: { start_version: "16.4.0", target_version: "v17.0.1", schedule: "regular", mode: "enabled" },
  },
};

type Find = {
  server_version: string;
  min_client_version: string;
  cluster_name: string;
  edition: string;
  fips: boolean;
  auto_update: {
    tools_version: string;
    tools_auto_update: boolean;
    agent_version: string;
    agent_auto_update: boolean;
    agent_update_jitter_seconds: number;
  };
  upkeep: {
    group: string;
    group_state: string;
    canary: boolean;
    capped: boolean;
    reason: string;
    artifact: string;
    critical: boolean;
  };
};

async function find(h: Harness, group: string, updater = "", path = "/v1/webapi/find"): Promise<Find> {
  const r = await h.app.request(
    `${path}?group=${encodeURIComponent(group)}&updater_id=${encodeURIComponent(updater)}`,
  );
  expect(r.status).toBe(200);
  return (await r.json()) as Find;
}

async function report(h: Harness, id: string, group: string, version: string, state = "ok", extra = {}) {
  const r = await h.req(
    "POST",
    "/v1/agents/report",
    { updater_id: id, hostname: `${id}.local`, group, version, state, ...extra },
    AGENT,
  );
  expect(r.status).toBe(200);
}

/** The releases the tests' resources name. */
const RELEASED = ["16.4.0", "17.0.1", "18.0.0"];

async function setup(h: Harness, config = CONFIG_YAML, version: unknown = VERSION) {
  // Published: the usual releases and whatever this version resource names (an apply refuses others).
  const spec = (version as { spec?: { agents?: Record<string, string>; tools?: Record<string, string> } })
    .spec;
  const named = [spec?.agents?.start_version, spec?.agents?.target_version, spec?.tools?.target_version];
  const versions = [...RELEASED, ...named.filter((v): v is string => v !== undefined)].map((v) =>
    v.replace(/^v/, ""),
  );
  await publishManifest(h, [...new Set(versions)]);
  expect(
    (await h.req("PUT", "/v1/resources/autoupdate_config", config, undefined, "application/yaml")).status,
  ).toBe(200);
  expect((await h.req("PUT", "/v1/resources/autoupdate_version", version)).status).toBe(200);
}

async function groups(
  h: Harness,
): Promise<
  Record<string, { state: string; canaries: { updater_id: string; success: boolean }[]; reason: string }>
> {
  const view = (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as {
    groups: { name: string; state: string; canaries: never[]; reason: string }[];
  };
  return Object.fromEntries(view.groups.map((g) => [g.name, g]));
}

describe("find/ping (Teleport-compatible)", () => {
  test("the exact Teleport field names, on all four paths, before any resource is set", async () => {
    const h = await harness();
    for (const path of ["/webapi/find", "/v1/webapi/find", "/webapi/ping", "/v1/webapi/ping"]) {
      const body = await find(h, "prod", "", path);
      expect(Object.keys(body).sort()).toEqual(
        [
          "auth",
          "auto_update",
          "automatic_upgrades",
          "cluster_name",
          "edition",
          "fips",
          "min_client_version",
          "proxy",
          "server_version",
          "upkeep",
        ].sort(),
      );
      expect(Object.keys(body.auto_update).sort()).toEqual(
        [
          "agent_auto_update",
          "agent_update_jitter_seconds",
          "agent_version",
          "tools_auto_update",
          "tools_version",
        ].sort(),
      );
      expect(body.server_version).toBe("17.0.1");
      expect(body.min_client_version).toBe("16.0.0-aa");
      expect(body.auto_update.agent_auto_update).toBe(false);
    }
  });

  test("unstarted groups get start_version and no update; an unknown group is the last group", async () => {
    const h = await harness({ start: "2026-11-23T07:10:00Z" });
    await setup(h);
    const prod = await find(h, "prod");
    expect(prod.auto_update).toMatchObject({
      agent_version: "16.4.0",
      agent_auto_update: false,
      tools_version: "17.0.1",
    });
    expect(prod.upkeep.group_state).toBe("unstarted");
    const unknown = await find(h, "no-such-group");
    expect(unknown.upkeep.group).toBe("prod");
    expect(unknown.upkeep.artifact).toBe("hello-v16.4.0-{os}-{arch}-bin.tar.gz");
  });

  test("the agent target is capped at server_version, and the answer says why", async () => {
    const h = await harness({ serverVersion: "17.0.1" });
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: { agents: { start_version: "17.0.1", target_version: "18.0.0", schedule: "immediate" } },
    });
    const a = await find(h, "prod");
    expect(a.auto_update.agent_version).toBe("17.0.1");
    expect(a.upkeep.capped).toBe(true);
    expect(a.upkeep.reason).toMatch(/17\.0\.1/);
  });
});

describe("server_version: no cap and no raise without it; every cap or raise shown", () => {
  type Told = Find & { upkeep: { adjusted: unknown; tools_adjusted: unknown; tools_reason: string } };
  type View = {
    server_version: string | null;
    server_cap: string;
    effective_target_version: string | null;
    target_adjusted: { kind: string; from: string; to: string; why: string } | null;
    tools: { version: string; adjusted: unknown } | null;
    groups: {
      name: string;
      state: string;
      effective_version: string;
      auto_update: boolean;
      answer: string;
      adjusted: { kind: string; from: string; to: string; why: string } | null;
    }[];
  };
  const view = async (h: Harness) =>
    (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as View;

  test("before any version policy every answer names no version and says why, server_version or not", async () => {
    for (const serverVersion of [null, "17.0.1"]) {
      const h = await harness({ serverVersion });
      await report(h, "c1", "canary", "16.4.0");
      const f = await find(h, "canary", "c1");
      expect(f.auto_update).toMatchObject({ agent_version: "", agent_auto_update: false });
      expect(f.upkeep.reason).toContain("no version policy yet");
      expect(f.upkeep.artifact).toBe("");
      if (serverVersion === null) {
        expect(f.server_version).toBe("");
        expect(f.auto_update).toMatchObject({ tools_version: "", tools_auto_update: false });
        expect((f as Told).upkeep.tools_reason).toContain("no tools version yet");
      } else expect(f.auto_update).toMatchObject({ tools_version: "17.0.1", tools_auto_update: false });
    }
  });

  test("without server_version the rollout moves and agents get its versions as given", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z", serverVersion: null });
    await report(h, "c1", "canary", "1.0.0");
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: {
        tools: { target_version: "2.5.0" },
        agents: { start_version: "1.0.0", target_version: "2.5.0", schedule: "regular", mode: "enabled" },
      },
    });
    expect((await groups(h)).canary?.state).toBe("canary");
    const f = (await find(h, "canary", "c1")) as Told;
    expect(f.auto_update).toMatchObject({
      agent_version: "2.5.0",
      agent_auto_update: true,
      tools_version: "2.5.0",
      tools_auto_update: true,
    });
    expect(f.server_version).toBe("");
    expect(f.min_client_version).toBe("");
    expect(f.upkeep).toMatchObject({ capped: false, adjusted: null, tools_adjusted: null });
    expect(f.upkeep.artifact).toBe("hello-v2.5.0-{os}-{arch}-bin.tar.gz");
    const v = await view(h);
    expect(v).toMatchObject({
      server_version: null,
      effective_target_version: "2.5.0",
      target_adjusted: null,
    });
    expect(v.server_cap).toContain("server_version is not set");
    expect(v.groups.map((g) => [g.name, g.effective_version, g.auto_update, g.adjusted])).toEqual([
      ["canary", "1.0.0", false, null],
      ["prod", "1.0.0", false, null],
    ]);
    // The canary reports the target: the group goes on (counted against the target as given).
    await report(h, "c1", "canary", "2.5.0");
    expect((await groups(h)).canary?.state).toBe("done");
  });

  test("with server_version, the cap and the raise are in the answer and in the rollout view", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z", serverVersion: "17.0.1" });
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: {
        tools: { target_version: "18.0.0" },
        agents: { start_version: "14.0.0", target_version: "18.0.0", schedule: "regular", mode: "enabled" },
      },
    });
    const f = (await find(h, "prod")) as Told;
    expect(f.auto_update).toMatchObject({ agent_version: "17.0.1", tools_version: "17.0.1" });
    expect(f.upkeep.adjusted).toMatchObject({ kind: "raised", from: "14.0.0", to: "17.0.1" });
    expect(f.upkeep.reason).toContain("raised to the server version 17.0.1");
    expect(f.upkeep.tools_adjusted).toMatchObject({ kind: "capped", from: "18.0.0", to: "17.0.1" });
    const v = await view(h);
    expect(v.effective_target_version).toBe("17.0.1");
    expect(v.target_adjusted).toMatchObject({ kind: "capped", from: "18.0.0", to: "17.0.1" });
    expect(v.target_adjusted?.why).toContain("capped at the server version");
    expect(v.tools?.adjusted).toMatchObject({ kind: "capped", from: "18.0.0" });
    const prod = v.groups.find((g) => g.name === "prod");
    expect(prod).toMatchObject({ effective_version: "17.0.1", adjusted: { kind: "raised", from: "14.0.0" } });
    expect(prod?.answer).toContain("raised to the server version");
  });
});

describe("halt-on-error rollout driven by reports", () => {
  test("canary success -> active -> done, then the next group in its window", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await report(h, "c1", "canary", "16.4.0");
    await report(h, "c2", "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    await setup(h);
    let g = await groups(h);
    expect(g.canary?.state).toBe("canary");
    expect(g.prod?.state).toBe("unstarted");
    const canaryId = g.canary?.canaries[0]?.updater_id as string;
    const other = canaryId === "c1" ? "c2" : "c1";
    expect((await find(h, "canary", canaryId)).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });
    expect((await find(h, "canary", other)).auto_update).toMatchObject({
      agent_version: "16.4.0",
      agent_auto_update: false,
    });

    await report(h, canaryId, "canary", "17.0.1");
    g = await groups(h);
    expect(g.canary?.state).toBe("active");
    expect((await find(h, "canary", other)).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });

    await report(h, other, "canary", "17.0.1");
    g = await groups(h);
    expect(g.canary?.state).toBe("done");
    expect(g.prod?.state).toBe("unstarted"); // its window (09:00) is not open yet

    h.clock.set("2026-11-23T09:05:00Z");
    await report(h, "p1", "prod", "16.4.0");
    g = await groups(h);
    expect(g.prod?.state).toBe("active");
    expect((await find(h, "prod")).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });
    await report(h, "p1", "prod", "17.0.1");
    expect((await groups(h)).prod?.state).toBe("done");

    const view = (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as {
      events: { group: string; to: string; reason: string }[];
    };
    expect(view.events.filter((e) => e.group === "canary").map((e) => e.to)).toEqual(
      expect.arrayContaining(["canary", "active", "done"]),
    );
    for (const e of view.events) expect(e.reason.length).toBeGreaterThan(0);
  });

  test("an agent between two reports still counts: the group waits for it (serve's default agent timeout)", async () => {
    const { agentTimeoutMs } = resolveOptions({});
    const h = await harness({ start: "2026-11-23T08:30:00Z", presenceMs: agentTimeoutMs });
    for (const id of ["c1", "c2", "c3"]) await report(h, id, "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    await setup(h);
    const canaryId = (await groups(h)).canary?.canaries[0]?.updater_id as string;
    await report(h, canaryId, "canary", "17.0.1");
    expect((await groups(h)).canary?.state).toBe("active");
    // Agents report every 5 minutes, plus jitter before an update: 7 minutes later the two that updated
    // report, the third has not yet. It is still a member: the group is not done without it.
    h.clock.advance(7 * 60_000);
    for (const id of ["c1", "c2"]) await report(h, id, "canary", "17.0.1");
    expect((await groups(h)).canary?.state).toBe("active");
    expect((await groups(h)).canary?.reason).toContain("2 of 3");
    await report(h, "c3", "canary", "17.0.1");
    expect((await groups(h)).canary?.state).toBe("done");
  });

  test("a failed canary rolls the group back and halts every later group", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await report(h, "c1", "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    await setup(h);
    expect((await groups(h)).canary?.state).toBe("canary");
    await report(h, "c1", "canary", "16.4.0", "rolledback", {
      error: "health check failed",
      failed_version: "17.0.1",
    });
    expect((await groups(h)).canary?.state).toBe("rolledback");
    const rb = await find(h, "canary", "c1");
    expect(rb.auto_update).toMatchObject({ agent_version: "16.4.0", agent_auto_update: true });

    h.clock.set("2026-11-23T09:10:00Z");
    await report(h, "p1", "prod", "16.4.0");
    expect((await groups(h)).prod?.state).toBe("unstarted");
    expect((await find(h, "prod")).auto_update).toMatchObject({
      agent_version: "16.4.0",
      agent_auto_update: false,
    });
  });

  test("after a rollback, start refuses while agents still fail (409); force keeps the group active through failures", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    const ids = ["p1", "p2", "p3", "p4", "p5"];
    for (const id of ids) await report(h, id, "prod", "16.4.0");
    await setup(h, ONE_GROUP);
    expect((await groups(h)).prod?.state).toBe("active");
    // One host's update fails; it keeps reporting it (the version is on its skip list).
    await report(h, "p1", "prod", "16.4.0", "rolledback", { failed_version: "17.0.1" });
    expect((await groups(h)).prod?.state).toBe("rolledback");

    const start = await h.req("POST", "/v1/rollout/groups/prod/start");
    expect(start.status).toBe(409);
    expect(JSON.stringify(await start.json())).toContain("rolled back again at once");
    expect((await groups(h)).prod?.state).toBe("rolledback");

    const force = await h.req("POST", "/v1/rollout/groups/prod/force");
    expect(force.status).toBe(200);
    expect((await groups(h)).prod?.state).toBe("active");
    await report(h, "p1", "prod", "16.4.0", "rolledback", { failed_version: "17.0.1" });
    expect((await groups(h)).prod?.state).toBe("active"); // forced: the operator's decision holds
    for (const id of ids.slice(1)) await report(h, id, "prod", "17.0.1");
    const g = (await groups(h)).prod as unknown as { state: string; reason: string };
    expect(g.state).toBe("done");
    expect(g.reason).toContain("1 failed");
  });

  test("operator actions: force skips the canary phase, rollback serves start_version with auto update", async () => {
    const h = await harness({ start: "2026-11-23T07:00:00Z" });
    await report(h, "p1", "prod", "16.4.0");
    await setup(h);
    let r = await h.req("POST", "/v1/rollout/groups/prod/force");
    expect(r.status).toBe(200);
    expect((await groups(h)).prod?.state).toBe("active");
    r = await h.req("POST", "/v1/rollout/groups/prod/rollback");
    expect(r.status).toBe(200);
    expect((await find(h, "prod")).auto_update).toMatchObject({
      agent_version: "16.4.0",
      agent_auto_update: true,
    });
    expect((await h.req("POST", "/v1/rollout/groups/nope/start")).status).toBe(404);
    expect((await h.req("POST", "/v1/rollout/groups/prod/explode")).status).toBe(404);
    expect((await h.req("POST", "/v1/rollout/groups/prod/force", undefined, "wrong")).status).toBe(401);
  });
});

describe("other schedules and modes", () => {
  const timeBased = `kind: autoupdate_config
spec:
  agents:
    strategy: time-based
    maintenance_window_minutes: 60
    schedules:
      regular:
        - { name: prod, days: ["Mon"], start_hour: 2 }
`;
  test("time-based: active (update) inside the window, done (no update) outside; critical updates anyway", async () => {
    const h = await harness({ start: "2026-11-23T02:15:00Z" });
    await setup(h, timeBased);
    expect((await find(h, "prod")).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });
    h.clock.set("2026-11-23T03:30:00Z");
    await h.rollout.reconcile();
    const out = await find(h, "prod");
    expect(out.upkeep.group_state).toBe("done");
    expect(out.auto_update.agent_auto_update).toBe(false);
    expect((await h.req("POST", "/v1/releases", { version: "17.0.1", critical: true })).status).toBe(200);
    const crit = await find(h, "prod");
    expect(crit.auto_update.agent_auto_update).toBe(true);
    expect(crit.upkeep.critical).toBe(true);
  });

  test("schedule immediate updates everyone now; suspended freezes; disabled stops", async () => {
    const h = await harness({ start: "2026-11-23T05:00:00Z" });
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: { agents: { start_version: "16.4.0", target_version: "17.0.1", schedule: "immediate" } },
    });
    expect((await find(h, "prod")).auto_update).toMatchObject({
      agent_version: "17.0.1",
      agent_auto_update: true,
    });
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: {
        agents: {
          start_version: "16.4.0",
          target_version: "17.0.1",
          schedule: "immediate",
          mode: "suspended",
        },
      },
    });
    expect((await find(h, "prod")).auto_update.agent_auto_update).toBe(false);
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: {
        agents: {
          start_version: "16.4.0",
          target_version: "17.0.1",
          schedule: "immediate",
          mode: "disabled",
        },
      },
    });
    expect((await find(h, "prod")).auto_update.agent_auto_update).toBe(false);
  });
});

describe("bad input", () => {
  test("missing or wrong token: 401; a token of another kind: 403 saying which kind is needed", async () => {
    const h = await harness();
    expect(
      (await h.app.request("/v1/resources/autoupdate_config", { method: "PUT", body: "{}" })).status,
    ).toBe(401);
    expect((await h.req("PUT", "/v1/resources/autoupdate_config", "{}", "nope")).status).toBe(401);
    const agent = await h.req("PUT", "/v1/resources/autoupdate_config", "{}", AGENT);
    expect(agent.status).toBe(403);
    expect(((await agent.json()) as { error: { message: string } }).error.message).toBe(
      "PUT /v1/resources/autoupdate_config needs an admin token; this is an agent token",
    );
    const viewer = await h.req("POST", "/v1/agents/report", {}, VIEWER);
    expect(((await viewer.json()) as { error: { message: string } }).error.message).toBe(
      "POST /v1/agents/report needs an agent or an admin token; this is a viewer token",
    );
    expect((await h.app.request("/v1/agents")).status).toBe(401);
  });

  test("an invalid resource: 400 naming the field path, and nothing changes", async () => {
    const h = await harness();
    const bad = CONFIG_YAML.replace("start_hour: 8", "start_hour: 24");
    const r = await h.req("PUT", "/v1/resources/autoupdate_config", bad, undefined, "application/yaml");
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { message: string }; problems: { path: string }[] };
    expect(body.problems.map((p) => p.path)).toContain("spec.agents.schedules.regular[0].start_hour");
    expect(body.error.message).toContain("spec.agents.schedules.regular[0].start_hour");
    const cur = (await (await h.req("GET", "/v1/resources/autoupdate_config", undefined, VIEWER)).json()) as {
      spec: { agents: { schedules: { regular: { name: string }[] } } };
    };
    expect(cur.spec.agents.schedules.regular.map((g) => g.name)).toEqual(["default"]);
  });

  test("a resource leaving out a section that is set now: 400 naming it, nothing changes; null removes it", async () => {
    const h = await harness();
    await setup(h);
    const get = async (kind: string) =>
      (await (await h.req("GET", `/v1/resources/${kind}`, undefined, VIEWER)).json()) as {
        spec: Record<string, unknown>;
      };
    const before = await get("autoupdate_version");
    const partial = { kind: "autoupdate_version", spec: { agents: VERSION.spec.agents } };
    const r = await h.req("PUT", "/v1/resources/autoupdate_version", partial);
    expect(r.status).toBe(400);
    const body = (await r.json()) as {
      error: { message: string };
      code: string;
      problems: { path: string }[];
    };
    expect(body.code).toBe("E_BAD_RESOURCE");
    expect(body.problems.map((p) => p.path)).toEqual(["spec.tools"]);
    expect(body.error.message).toContain("target_version 17.0.1");
    expect(body.error.message).toContain("tools: null");
    expect(await get("autoupdate_version")).toEqual(before);
    // Removed on purpose: applied, and the tools target is gone.
    const removed = { kind: "autoupdate_version", spec: { tools: null, agents: VERSION.spec.agents } };
    expect((await h.req("PUT", "/v1/resources/autoupdate_version", removed)).status).toBe(200);
    expect(Object.keys((await get("autoupdate_version")).spec)).toEqual(["agents"]);
    // The config: groups set now are not reset to the default group by a document without schedules.
    const noGroups =
      "kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n  agents: { mode: enabled }\n";
    const c = await h.req("PUT", "/v1/resources/autoupdate_config", noGroups, undefined, "application/yaml");
    expect(c.status).toBe(400);
    expect(((await c.json()) as { error: { message: string } }).error.message).toContain(
      "spec.agents.schedules: missing",
    );
    const cfg = (await get("autoupdate_config")) as {
      spec: { agents: { schedules: { regular: unknown[] } } };
    };
    expect(cfg.spec.agents.schedules.regular).toHaveLength(2);
  });

  test("malformed JSON and YAML: 400; oversized body: 413", async () => {
    const h = await harness();
    expect((await h.req("PUT", "/v1/resources/autoupdate_version", "{not json")).status).toBe(400);
    expect(
      (await h.req("PUT", "/v1/resources/autoupdate_version", "a: [b", undefined, "application/yaml")).status,
    ).toBe(400);
    const huge = `kind: autoupdate_version\n# ${"x".repeat(1024 * 1024 + 10)}\n`;
    expect(
      (await h.req("PUT", "/v1/resources/autoupdate_version", huge, undefined, "application/yaml")).status,
    ).toBe(413);
  });

  test("reports: each bad field named", async () => {
    const h = await harness();
    const r = await h.req(
      "POST",
      "/v1/agents/report",
      { updater_id: "", version: "x", state: "dancing", extra: 1 },
      AGENT,
    );
    expect(r.status).toBe(400);
    const paths = ((await r.json()) as { problems: { path: string }[] }).problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["updater_id", "hostname", "version", "state", "extra"]));
  });

  test("the server never answers 500 or throws on garbage at any route", async () => {
    const h = await harness();
    const routes = [
      "/webapi/find",
      "/v1/webapi/ping",
      "/v1/webapi/ping/x",
      "/v1/webapi/automaticupgrades/channel/x/version",
      "/v1/webapi/automaticupgrades/channel/%ff/critical",
      "/v1/webapi/automaticupgrades/channel//version",
      "/v1/resources/autoupdate_config",
      "/v1/resources/autoupdate_version",
      "/v1/rollout",
      "/v1/rollout/groups/x/start",
      "/v1/rollout/groups/%00/force",
      "/v1/releases",
      "/v1/artifacts/x",
      "/v1/artifacts/..%2F..%2Fetc%2Fpasswd",
      "/artifacts/..%2Fupkeep.db",
      "/scripts/install.sh",
      "/v1/agents/report",
      "/v1/agents",
      "/v1/tokens",
      "/v1/server",
      "/download/upkeep-linux-amd64",
      "/healthz",
      "/readyz",
      "/metrics",
      "/nope",
    ];
    const bodies = [
      "",
      "null",
      "[]",
      "{}",
      "\u0000\u0001\u00ff",
      '{"kind":',
      "- - - [",
      "a".repeat(5000),
      `${"[".repeat(5000)}`,
      JSON.stringify({ kind: "autoupdate_config", spec: { agents: { schedules: { regular: "x" } } } }),
    ];
    let n = 0;
    for (const path of routes) {
      for (const method of ["GET", "PUT", "POST", "DELETE"]) {
        for (const body of method === "GET" || method === "DELETE" ? [undefined] : bodies) {
          for (const type of ["application/json", "application/yaml"]) {
            const r = await h.req(method, path, body, undefined, type);
            n++;
            expect(`${method} ${path} -> ${r.status}`).not.toMatch(/-> 5\d\d$/);
          }
        }
      }
    }
    expect(n).toBeGreaterThan(300);
  });
});

describe("who may call what", () => {
  type Who = "none" | "agent" | "viewer" | "admin";
  const WHO: Who[] = ["none", "agent", "viewer", "admin"];
  const ART = "hello-v17.0.1-linux-amd64-bin.tar.gz";
  const PUBLIC = [200, 200, 200, 200];
  const READ = [401, 403, 200, 200];
  /** Every route of the app: [method, route, path sent, body, status for none/agent/viewer/admin]. */
  const TABLE: [string, string, string, unknown, number[]][] = [
    ["GET", "/healthz", "/healthz", undefined, PUBLIC],
    ["GET", "/readyz", "/readyz", undefined, PUBLIC],
    ["GET", "/metrics", "/metrics", undefined, READ],
    ["GET", "/webapi/find", "/webapi/find?group=prod", undefined, PUBLIC],
    ["GET", "/v1/webapi/find", "/v1/webapi/find?group=prod", undefined, PUBLIC],
    ["GET", "/webapi/ping", "/webapi/ping", undefined, PUBLIC],
    ["GET", "/v1/webapi/ping", "/v1/webapi/ping", undefined, PUBLIC],
    ["GET", "/webapi/ping/:connector", "/webapi/ping/github", undefined, PUBLIC],
    ["GET", "/v1/webapi/ping/:connector", "/v1/webapi/ping/saml", undefined, PUBLIC],
    [
      "GET",
      "/webapi/automaticupgrades/channel/*",
      "/webapi/automaticupgrades/channel/prod/version",
      undefined,
      PUBLIC,
    ],
    [
      "GET",
      "/v1/webapi/automaticupgrades/channel/*",
      "/v1/webapi/automaticupgrades/channel/prod/critical",
      undefined,
      PUBLIC,
    ],
    ["GET", "/scripts/install.sh", "/scripts/install.sh", undefined, PUBLIC],
    ["GET", "/download/:file", "/download/upkeep-linux-amd64", undefined, PUBLIC],
    ["GET", "/artifacts/:name", `/artifacts/${ART}`, undefined, PUBLIC],
    ["HEAD", "/artifacts/:name", `/artifacts/${ART}`, undefined, PUBLIC],
    ["GET", "/v1/resources/autoupdate_config", "/v1/resources/autoupdate_config", undefined, READ],
    ["GET", "/v1/resources/autoupdate_version", "/v1/resources/autoupdate_version", undefined, READ],
    ["GET", "/v1/server", "/v1/server", undefined, READ],
    ["GET", "/v1/rollout", "/v1/rollout", undefined, READ],
    ["GET", "/v1/agents", "/v1/agents", undefined, READ],
    ["GET", "/v1/releases", "/v1/releases", undefined, READ],
    [
      "POST",
      "/v1/agents/report",
      "/v1/agents/report",
      { updater_id: "u1", hostname: "h1", group: "prod", version: "16.4.0", state: "ok" },
      [401, 200, 403, 200],
    ],
    [
      "PUT",
      "/v1/resources/autoupdate_config",
      "/v1/resources/autoupdate_config",
      CONFIG_YAML,
      [401, 403, 403, 200],
    ],
    [
      "PUT",
      "/v1/resources/autoupdate_version",
      "/v1/resources/autoupdate_version",
      VERSION,
      [401, 403, 403, 200],
    ],
    ["PUT", "/v1/server", "/v1/server", { server_version: "17.0.1" }, [401, 403, 403, 200]],
    [
      "POST",
      "/v1/apply",
      "/v1/apply?dry_run=1",
      { resources: [{ kind: "server", server_version: "17.0.1" }] },
      [401, 403, 403, 200],
    ],
    [
      "POST",
      "/v1/rollout/groups/:name/:action",
      "/v1/rollout/groups/prod/force",
      undefined,
      [401, 403, 403, 200],
    ],
    ["PUT", "/v1/artifacts/:name", "/v1/artifacts/other.bin", "bytes", [401, 403, 403, 201]],
    ["POST", "/v1/releases", "/v1/releases", { version: "17.0.1", critical: false }, [401, 403, 403, 200]],
    ["GET", "/v1/tokens", "/v1/tokens", undefined, [401, 403, 403, 200]],
    ["POST", "/v1/tokens", "/v1/tokens", { type: "agent" }, [401, 403, 403, 201]],
    ["DELETE", "/v1/tokens/:id", "/v1/tokens/no-such-id", undefined, [401, 403, 403, 404]],
    // The dashboard takes no bearer token: without its session cookie, pages lead to the login form (303),
    // the rest is refused (401); server/dashboard/dashboard.test.ts tests it with sessions.
    ["GET", "/", "/", undefined, [303, 303, 303, 303]],
    ["GET", "/dashboard", "/dashboard", undefined, [303, 303, 303, 303]],
    ["GET", "/dashboard/login", "/dashboard/login", undefined, PUBLIC],
    ["POST", "/dashboard/login", "/dashboard/login", undefined, [400, 400, 400, 400]],
    ["POST", "/dashboard/logout", "/dashboard/logout", undefined, [303, 303, 303, 303]],
    ["GET", "/dashboard/live", "/dashboard/live", undefined, [401, 401, 401, 401]],
    ["GET", "/dashboard/hosts/:id", "/dashboard/hosts/u1", undefined, [303, 303, 303, 303]],
    [
      "POST",
      "/dashboard/groups/:name/:action",
      "/dashboard/groups/prod/force",
      undefined,
      [401, 401, 401, 401],
    ],
    ["POST", "/dashboard/critical", "/dashboard/critical", undefined, [401, 401, 401, 401]],
    ["GET", "/dashboard/assets/:file", "/dashboard/assets/app.js", undefined, PUBLIC],
  ];

  test("every route x {no token, agent, viewer, admin} -> the status of one rule", async () => {
    const h = await harness({ self: true });
    const token: Record<Who, string | undefined> = {
      none: undefined,
      agent: AGENT,
      viewer: VIEWER,
      admin: ADMIN,
    };
    const up = await h.req("PUT", `/v1/artifacts/${ART}`, "artifact bytes");
    expect(up.status).toBe(201);
    await publishManifest(h, RELEASED);

    const expected: string[] = [];
    const got: string[] = [];
    for (const [method, route, path, body] of TABLE) {
      for (const [i, who] of WHO.entries()) {
        // Text bodies are YAML resources or artifact bytes; the others JSON.
        const type = typeof body === "string" ? "application/yaml" : "application/json";
        const headers: Record<string, string> = { "content-type": type };
        const t = token[who];
        if (t) headers.authorization = `Bearer ${t}`;
        const r = await h.app.request(path, {
          method,
          headers,
          ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
        });
        const row = TABLE.find((x) => x[0] === method && x[1] === route) as (typeof TABLE)[number];
        expected.push(`${method} ${route} ${who} -> ${row[4][i]}`);
        got.push(`${method} ${route} ${who} -> ${r.status}`);
      }
    }
    expect(got).toEqual(expected);

    // The table is every route the app has: a new route without a row here fails.
    const routes = new Set(
      h.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    );
    expect(TABLE.map(([m, r]) => `${m} ${r}`).sort()).toEqual([...routes].sort());
  });

  test("viewer tokens: created by an admin (POST /v1/tokens type viewer), listed, read, write nothing, revoked", async () => {
    const h = await harness();
    const r = await h.req("POST", "/v1/tokens", { type: "viewer", name: "grafana" });
    expect(r.status).toBe(201);
    const { token, type, name } = (await r.json()) as { token: string; type: string; name: string };
    expect([type, name]).toEqual(["viewer", "grafana"]);
    expect((await h.req("GET", "/v1/rollout", undefined, token)).status).toBe(200);
    expect((await h.req("GET", "/metrics", undefined, token)).status).toBe(200);
    expect((await h.req("PUT", "/v1/server", { server_version: "1.0.0" }, token)).status).toBe(403);
    expect((await h.req("POST", "/v1/tokens", { type: "viewer" }, token)).status).toBe(403);
    const list = (await (await h.req("GET", "/v1/tokens")).json()) as {
      tokens: { id: string; type: string; name: string }[];
    };
    const mine = list.tokens.find((t) => t.name === "grafana");
    expect(mine?.type).toBe("viewer");
    expect((await h.req("DELETE", `/v1/tokens/${mine?.id}`)).status).toBe(200);
    expect((await h.req("GET", "/v1/rollout", undefined, token)).status).toBe(401);
    expect((await h.req("POST", "/v1/tokens", { type: "admin" })).status).toBe(400);
  });
});

describe("artifacts", () => {
  test("upload streams to disk with sha256; download with ETag, Range and 304", async () => {
    const h = await harness();
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    const up = await h.app.request("/v1/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", {
      method: "PUT",
      headers: { authorization: "Bearer admin-token-for-tests" },
      body: bytes,
    });
    expect(up.status).toBe(201);
    const meta = (await up.json()) as { sha256: string; size: number };
    expect(meta.size).toBe(bytes.length);
    expect(meta.sha256).toBe(new Bun.CryptoHasher("sha256").update(bytes).digest("hex"));

    const full = await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz");
    expect(full.status).toBe(200);
    expect(new Uint8Array(await full.arrayBuffer())).toEqual(bytes);
    const etag = full.headers.get("etag") as string;
    expect(etag).toBe(`"${meta.sha256}"`);
    const part = await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", {
      headers: { range: "bytes=1000-1999" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(1000, 2000));
    const tail = await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", {
      headers: { range: "bytes=99000-" },
    });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.slice(99000));
    expect(
      (
        await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", {
          headers: { range: "bytes=200000-" },
        })
      ).status,
    ).toBe(416);
    expect(
      (
        await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", {
          headers: { "if-none-match": etag },
        })
      ).status,
    ).toBe(304);
    const art = (headers: Record<string, string>) =>
      h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", { headers });
    // Several ranges, or one that is not valid (5-2, garbage), are ignored: the whole file.
    for (const range of ["bytes=0-1,5-6", "bytes=5-2", "bytes=x-y", "items=0-1"]) {
      const r = await art({ range });
      expect(r.status).toBe(200);
      expect(Number(r.headers.get("content-length"))).toBe(bytes.length);
    }
    expect((await art({ range: "bytes=-100" })).status).toBe(206);
    expect((await art({ range: "bytes=-0" })).status).toBe(416);
    // If-None-Match: a list, a weak tag or * all match.
    for (const inm of [`"other", ${etag}`, `W/${etag}`, "*"])
      expect((await art({ "if-none-match": inm })).status).toBe(304);
    expect((await art({ "if-none-match": '"other"' })).status).toBe(200);
    const head = await h.app.request("/artifacts/hello-v17.0.1-linux-amd64-bin.tar.gz", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));

    const list = (await (await h.req("GET", "/v1/releases", undefined, VIEWER)).json()) as {
      artifacts: { name: string }[];
    };
    expect(list.artifacts.map((a) => a.name)).toEqual(["hello-v17.0.1-linux-amd64-bin.tar.gz"]);
  });

  test("names with path tricks are refused with 400", async () => {
    const h = await harness();
    for (const name of [".hidden", "a..b", "%2E%2E%2Fx", "x%2Fy", "a%00b"]) {
      const r = await h.req("PUT", `/v1/artifacts/${name}`, "data");
      expect(`${name} ${r.status}`).toBe(`${name} 400`);
    }
    // A ".." segment (literal or encoded) is normalized away by the router before any route sees it.
    for (const name of ["..", "%2E%2E"])
      expect((await h.req("PUT", `/v1/artifacts/${name}`, "data")).status).toBe(404);
    const list = (await (await h.req("GET", "/v1/releases", undefined, VIEWER)).json()) as {
      artifacts: unknown[];
    };
    expect(list.artifacts).toEqual([]);
  });
});

describe("install.sh, tokens, metrics, state", () => {
  test("install.sh is valid POSIX sh, verifies the checksum and enables the agent against this server", async () => {
    const h = await harness();
    const r = await h.app.request("/scripts/install.sh");
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain("UPKEEP_SERVER='https://upkeep.example.test'");
    expect(text).toContain('agent enable --server "$UPKEEP_SERVER" "$@"');
    expect(text).toMatch(/checksum mismatch/);
    const dir = mkdtempSync(join(tmpdir(), "upkeep-sh-"));
    await Bun.write(join(dir, "install.sh"), text);
    const check = Bun.spawnSync(["sh", "-n", join(dir, "install.sh")]);
    expect(check.exitCode).toBe(0);
  });

  test("agent tokens from POST /v1/tokens are accepted for reports", async () => {
    const h = await harness();
    const r = await h.req("POST", "/v1/tokens", { type: "agent", name: "fleet" });
    expect(r.status).toBe(201);
    const { token } = (await r.json()) as { token: string };
    const rep = await h.req(
      "POST",
      "/v1/agents/report",
      { updater_id: "x", hostname: "h", version: "1.0.0", state: "ok" },
      token,
    );
    expect(rep.status).toBe(200);
    expect((await h.req("POST", "/v1/tokens", { type: "admin" })).status).toBe(400);
  });

  test("metrics in Prometheus text", async () => {
    const h = await harness();
    await setup(h);
    await find(h, "prod");
    await report(h, "p1", "prod", "16.4.0");
    const text = await (await h.req("GET", "/metrics", undefined, VIEWER)).text();
    for (const family of [
      "upkeep_http_requests_total",
      "upkeep_find_answers",
      "upkeep_agents",
      "upkeep_rollout_group_state",
      "upkeep_reconcile_duration_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    expect(text).toMatch(/upkeep_agents\{group="prod",state="ok",version="16.4.0"\} 1/);
  });

  test("metrics: each find answer is counted under what it said, also once the answer changed", async () => {
    const h = await harness({ start: "2026-11-23T07:00:00Z" });
    await report(h, "p1", "prod", "16.4.0");
    await setup(h);
    await find(h, "prod");
    await find(h, "prod", "p1");
    expect((await h.req("POST", "/v1/rollout/groups/prod/force")).status).toBe(200);
    const metrics = async () =>
      (await (await h.req("GET", "/metrics", undefined, VIEWER)).text()).split("\n");
    // Nothing asked since the answer changed: the two served still count as what they said.
    const series = (lines: string[]) => lines.filter((l) => l.startsWith("upkeep_find_answers{"));
    expect(series(await metrics())).toEqual([
      'upkeep_find_answers{canary="false",group="prod",should_update="false",version="16.4.0"} 2',
    ]);
    await find(h, "prod");
    expect(series(await metrics())).toEqual([
      'upkeep_find_answers{canary="false",group="prod",should_update="false",version="16.4.0"} 2',
      'upkeep_find_answers{canary="false",group="prod",should_update="true",version="17.0.1"} 1',
    ]);
  });

  test("metrics: a report naming an unknown group is counted under the last group (labels = configured groups)", async () => {
    const h = await harness();
    await setup(h);
    await report(h, "p1", "prod", "16.4.0");
    await report(h, "c1", "canary", "16.4.0");
    for (let i = 0; i < 20; i++) await report(h, `x${i}`, `made-up-${i}`, "16.4.0");
    const noGroup = { updater_id: "e1", hostname: "e1", version: "16.4.0", state: "ok" };
    expect((await h.req("POST", "/v1/agents/report", noGroup, AGENT)).status).toBe(200);
    const text = await (await h.req("GET", "/metrics", undefined, VIEWER)).text();
    const groups = new Set(
      [...text.matchAll(/^upkeep_agents\{group="([^"]*)"/gm)].map((m) => m[1] as string),
    );
    expect([...groups].sort()).toEqual(["canary", "prod"]);
    expect(text).toMatch(/upkeep_agents\{group="prod",state="ok",version="16.4.0"\} 22/);
    expect(text).not.toContain("made-up");
  });

  test("agents unseen for longer than the presence window stop counting; one gone mid-update holds done (Teleport's 90% present rule)", async () => {
    const h = await harness({ start: "2026-11-23T07:00:00Z" });
    await report(h, "p1", "prod", "16.4.0");
    await report(h, "p2", "prod", "16.4.0");
    await setup(h, CONFIG_YAML, {
      kind: "autoupdate_version",
      spec: { agents: { start_version: "16.4.0", target_version: "17.0.1", schedule: "immediate" } },
    });
    expect((await h.req("GET", "/v1/rollout")).status).toBe(200);
    await report(h, "p1", "prod", "17.0.1");
    let view = (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as {
      groups: { name: string; state: string; present_count: number }[];
    };
    expect(view.groups.find((g) => g.name === "prod")).toMatchObject({ state: "active", present_count: 2 });
    // p2 goes silent; p1 keeps reporting. After the presence window (10 min here) p2 no longer counts.
    h.clock.advance(11 * 60_000);
    await report(h, "p1", "prod", "17.0.1");
    view = (await (await h.req("GET", "/v1/rollout", undefined, VIEWER)).json()) as typeof view;
    // Teleport's done rule: fewer than 90% of the agents there at the start still report: not done.
    expect(view.groups.find((g) => g.name === "prod")).toMatchObject({ state: "active", present_count: 1 });
    const agents = (await (await h.req("GET", "/v1/agents")).json()) as {
      agents: { updater_id: string; present: boolean }[];
    };
    expect(agents.agents.map((a) => [a.updater_id, a.present])).toEqual([
      ["p1", true],
      ["p2", false],
    ]);
  });

  test("state survives a restart (same database file)", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "upkeep-db-")), "upkeep.db");
    const h1 = await harness({ db, start: "2026-11-23T08:30:00Z" });
    await report(h1, "c1", "canary", "16.4.0");
    await setup(h1);
    const before = await groups(h1);
    h1.store.close();
    const h2 = await harness({ db, start: "2026-11-23T08:31:00Z" });
    const after = await groups(h2);
    expect(after.canary?.state).toBe(before.canary?.state as string);
    expect(after.canary?.canaries).toEqual(before.canary?.canaries ?? []);
    expect((await find(h2, "canary", "c1")).auto_update.agent_version).toBe("17.0.1");
  });
});

test("plan: what an apply would tell each group, and the versions the published manifest lacks", async () => {
  const h = await harness({ start: "2026-11-23T08:30:00Z", serverVersion: null });
  await setup(h);
  const candidate = parseAutoupdateVersion({
    kind: "autoupdate_version",
    spec: { agents: { start_version: "16.4.0", target_version: "18.0.0", schedule: "immediate" } },
  });
  // No manifest published: nothing to check.
  expect(h.rollout.plan({ version: candidate }).unpublished).toEqual([]);
  await publishManifest(h, ["16.4.0", "17.0.1"], 5);
  const p = h.rollout.plan({ version: candidate });
  expect(p.published).toEqual(["16.4.0", "17.0.1"]);
  expect(p.unpublished).toEqual([
    { version: "18.0.0", uses: ["spec.agents.target_version"], published: false },
  ]);
  expect(p.groups.map((g) => [g.group, g.version, g.update])).toEqual([
    ["canary", "18.0.0", true],
    ["prod", "18.0.0", true],
  ]);
  // With a server version the target is capped at it, which is published; nothing was changed.
  expect(h.rollout.plan({ version: candidate, serverVersion: "17.0.1" }).unpublished).toEqual([]);
  expect((await find(h, "prod")).auto_update.agent_version).toBe("16.4.0");
});

describe("critical releases from the published manifest", () => {
  test("a release the manifest flags critical is applied outside the window (time-based)", async () => {
    const h = await harness({ start: "2026-11-23T05:00:00Z" });
    await setup(
      h,
      "kind: autoupdate_config\nspec:\n  agents:\n    strategy: time-based\n    schedules:\n      regular:\n        - { name: prod, days: [Mon], start_hour: 2 }\n",
    );
    expect((await find(h, "prod")).auto_update.agent_auto_update).toBe(false);
    await publishManifest(h, ["17.0.1"], 5, { critical: ["17.0.1"] });
    const a = await find(h, "prod");
    expect(a.upkeep.critical).toBe(true);
    expect(a.auto_update).toMatchObject({ agent_version: "17.0.1", agent_auto_update: true });
    const rel = (await (await h.req("GET", "/v1/releases", undefined, VIEWER)).json()) as {
      critical: string[];
      manifest: { serial: number };
    };
    expect(rel.critical).toEqual(["17.0.1"]);
    expect(rel.manifest.serial).toBe(5);
  });
});

describe("apply: versions hosts cannot install are refused (issue 11, trap 2)", () => {
  const target = (v: string) => ({
    kind: "autoupdate_version",
    spec: { agents: { start_version: "16.4.0", target_version: v, schedule: "regular" } },
  });
  const storedTarget = async (h: Harness) =>
    (
      (await (await h.req("GET", "/v1/resources/autoupdate_version")).json()) as {
        spec: { agents?: { target_version: string } };
      }
    ).spec.agents?.target_version;

  test("a target not in the published manifest: 409 listing what is published; nothing stored; ?force=1 stores it", async () => {
    const h = await harness();
    await publishManifest(h, ["16.4.0", "17.0.1"]);
    const r = await h.req("PUT", "/v1/resources/autoupdate_version", target("16.5.0"));
    expect(r.status).toBe(409);
    const body = (await r.json()) as { error: { message: string }; code: string; hint: string };
    expect(body.code).toBe("E_NOT_IN_MANIFEST");
    expect(body.error.message).toBe(
      "not in the release manifest published on this server: 16.5.0 (spec.agents.target_version); published: 16.4.0, 17.0.1; nothing was applied",
    );
    expect(body.hint).toContain("--force");
    expect(await storedTarget(h)).toBeUndefined();
    expect((await h.req("GET", "/v1/rollout", undefined, VIEWER)).status).toBe(200);
    expect((await groups(h)).canary).toBeUndefined();

    const forced = await h.req("PUT", "/v1/resources/autoupdate_version?force=1", target("16.5.0"));
    expect(forced.status).toBe(200);
    expect(await storedTarget(h)).toBe("16.5.0");
    // A published one needs no force.
    expect((await h.req("PUT", "/v1/resources/autoupdate_version", target("17.0.1"))).status).toBe(200);
  });

  test("no manifest published: refused, saying to publish one (or force)", async () => {
    const h = await harness();
    const r = await h.req("POST", "/v1/apply", { resources: [target("17.0.1")] });
    expect(r.status).toBe(409);
    const body = (await r.json()) as { error: { message: string }; hint: string };
    expect(body.error.message).toContain(
      "no release manifest (hello-releases.json) is published on this server",
    );
    expect(body.error.message).toContain("16.4.0, 17.0.1");
    expect(body.hint).toContain("upkeep admin publish");
    expect(await storedTarget(h)).toBeUndefined();
    const forced = await h.req("POST", "/v1/apply?force=1", { resources: [target("17.0.1")] });
    expect(forced.status).toBe(200);
    expect(((await forced.json()) as { forced: string[] }).forced).toEqual(["16.4.0", "17.0.1"]);
    // A config names no version: never checked.
    expect(
      (await h.req("PUT", "/v1/resources/autoupdate_config", CONFIG_YAML, ADMIN, "application/yaml")).status,
    ).toBe(200);
  });

  test("the effective version counts: a server_version that raises or caps agents to an unpublished version is refused", async () => {
    const h = await harness({ serverVersion: "17.0.1" });
    await publishManifest(h, ["16.4.0", "17.0.1"]);
    expect((await h.req("PUT", "/v1/resources/autoupdate_version", target("17.0.1"))).status).toBe(200);
    // 19.0.0 raises both (too old for it) to 19.0.0, which is not published.
    const raise = await h.req("PUT", "/v1/server", { server_version: "19.0.0" });
    expect(raise.status).toBe(409);
    const { error } = (await raise.json()) as { error: { message: string } };
    expect(error.message).toContain(
      "19.0.0 (spec.agents.start_version 16.4.0 raised to 19.0.0 (server_version)",
    );
    expect(error.message).toContain("published: 16.4.0, 17.0.1");
    // 16.9.0 caps the target 17.0.1 at 16.9.0, not published either.
    const cap = await h.req("PUT", "/v1/server", { server_version: "16.9.0" });
    expect(cap.status).toBe(409);
    expect(((await cap.json()) as { error: { message: string } }).error.message).toContain(
      "16.9.0 (spec.agents.target_version 17.0.1 capped to 16.9.0 (server_version))",
    );
    expect(
      ((await (await h.req("GET", "/v1/server")).json()) as { server_version: string }).server_version,
    ).toBe("17.0.1");
    // Capped to a published version: fine.
    expect((await h.req("PUT", "/v1/server", { server_version: "16.4.0" })).status).toBe(200);
  });

  test("a set is checked as a whole: a server version and a target applied together", async () => {
    const h = await harness({ serverVersion: "17.0.1" });
    await publishManifest(h, ["18.0.0", "18.1.0"]);
    const r = await h.req("POST", "/v1/apply", {
      resources: [
        { kind: "server", server_version: "18.1.0" },
        {
          kind: "autoupdate_version",
          spec: { agents: { start_version: "18.0.0", target_version: "18.1.0" } },
        },
      ],
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { applied: unknown[]; dry_run: boolean; forced: string[] };
    expect(body).toMatchObject({ dry_run: false, forced: [] });
    expect(body.applied).toHaveLength(2);
    expect(await storedTarget(h)).toBe("18.1.0");
  });

  test("a bad document anywhere in the set: 400 naming its index, and nothing of the set is stored", async () => {
    const h = await harness({ serverVersion: "17.0.1" });
    const r = await h.req("POST", "/v1/apply?force=1", {
      resources: [
        { kind: "server", server_version: "18.0.0" },
        {
          kind: "autoupdate_config",
          spec: { agents: { schedules: { regular: [{ name: "x", start_hour: 24 }] } } },
        },
      ],
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { message: string }; problems: { path: string }[] };
    expect(body.error.message).toStartWith(
      "resources[1] autoupdate_config: spec.agents.schedules.regular[0].start_hour",
    );
    expect(body.problems[0]?.path).toBe("spec.agents.schedules.regular[0].start_hour");
    expect(
      ((await (await h.req("GET", "/v1/server")).json()) as { server_version: string }).server_version,
    ).toBe("17.0.1");
    const kindless = await h.req("POST", "/v1/apply", { resources: [{ spec: {} }] });
    expect(kindless.status).toBe(400);
    expect(((await kindless.json()) as { error: { message: string } }).error.message).toContain(
      "resources[0]: kind: missing",
    );
  });

  test("a set whose later document drops a section an earlier one set: refused before anything is stored", async () => {
    const h = await harness();
    await publishManifest(h, RELEASED);
    const both = {
      kind: "autoupdate_version",
      spec: { ...VERSION.spec, agents: { ...VERSION.spec.agents } },
    };
    const agentsOnly = { kind: "autoupdate_version", spec: { agents: VERSION.spec.agents } };
    const r = await h.req("POST", "/v1/apply", {
      resources: [{ kind: "server", server_version: "18.0.0" }, both, agentsOnly],
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toStartWith(
      "resources[2] autoupdate_version: spec.tools: missing, but the stored autoupdate_version sets it",
    );
    expect(await storedTarget(h)).toBeUndefined();
    expect(
      ((await (await h.req("GET", "/v1/server")).json()) as { server_version: string }).server_version,
    ).toBe("17.0.1");
  });

  test("dry run: what each group and tools would be told, with the why; nothing changes", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" }); // canary's 08:00 window is open
    await publishManifest(h, RELEASED);
    await report(h, "c1", "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    expect(
      (await h.req("PUT", "/v1/resources/autoupdate_config", CONFIG_YAML, ADMIN, "application/yaml")).status,
    ).toBe(200);
    const r = await h.req("POST", "/v1/apply?dry_run=1", { resources: [VERSION] });
    expect(r.status).toBe(200);
    const body = (await r.json()) as {
      dry_run: boolean;
      applied: unknown[];
      plan: {
        now: string;
        groups: {
          group: string;
          state: string;
          state_reason: string;
          next_window_open: string;
          version: string;
          update: boolean;
          why: string;
          canary: { version: string; update: boolean } | null;
        }[];
        tools: { version: string; update: boolean; why: string };
        published: string[];
      };
    };
    expect(body.dry_run).toBe(true);
    expect(body.applied).toEqual([]);
    expect(body.plan.now).toBe("2026-11-23T08:30:00.000Z");
    const [canary, prod] = body.plan.groups;
    expect(canary).toMatchObject({ group: "canary", state: "canary", version: "16.4.0", update: false });
    expect(canary?.canary).toMatchObject({ version: "17.0.1", update: true });
    expect(prod).toMatchObject({
      group: "prod",
      state: "unstarted",
      version: "16.4.0",
      update: false,
      state_reason: "waiting for earlier group canary (canary)",
      next_window_open: "2026-11-23T09:00:00.000Z",
    });
    expect(prod?.why).toContain("group prod is unstarted");
    expect(body.plan.tools).toMatchObject({ version: "17.0.1", update: true });
    expect(body.plan.published).toEqual(RELEASED);
    // Nothing changed: no version, no rollout, agents told nothing new.
    expect(await storedTarget(h)).toBeUndefined();
    expect(await groups(h)).toEqual({});
    expect((await find(h, "canary", "c1")).auto_update.agent_auto_update).toBe(false);
    // An unpublished target in a dry run: the same refusal.
    const bad = await h.req("POST", "/v1/apply?dry_run=1", { resources: [target("16.5.0")] });
    expect(bad.status).toBe(409);
  });
});
