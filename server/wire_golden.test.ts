/**
 * The wire bodies byte for byte: find/ping (Teleport clients read it: field names, order, omitted vs empty
 * fields) and the native API views `upkeep admin` reads. Golden files in server/golden/wire/; a change shows
 * as a diff there. `UPDATE_GOLDEN=1 bun test server/wire_golden.test.ts` rewrites them after a deliberate
 * change of the wire format (never to make a refactor pass).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AGENT,
  CONFIG_YAML,
  type Harness,
  harness,
  publishManifest,
  publishSelfManifest,
  VIEWER,
} from "./test_harness.ts";

const GOLDEN = join(import.meta.dir, "golden", "wire");

function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(existsSync(path)).toBe(true);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

function versionDoc(start: string, target: string, tools?: string, schedule = "regular") {
  return {
    kind: "autoupdate_version",
    spec: {
      ...(tools ? { tools: { target_version: tools } } : {}),
      agents: { start_version: start, target_version: target, schedule, mode: "enabled" },
    },
  };
}

async function ok(r: Response | Promise<Response>, status = 200): Promise<string> {
  const res = await r;
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return text;
}

async function findText(h: Harness, group: string, updater = ""): Promise<string> {
  const r = await h.app.request(
    `/v1/webapi/find?group=${encodeURIComponent(group)}&updater_id=${encodeURIComponent(updater)}`,
  );
  expect(r.headers.get("content-type")).toBe("application/json");
  return ok(r);
}

async function report(h: Harness, id: string, group: string, version: string, state = "ok", extra = {}) {
  const body = { updater_id: id, hostname: `${id}.local`, group, version, state, ...extra };
  await ok(h.req("POST", "/v1/agents/report", body, AGENT));
}

async function publish(h: Harness, versions: string[], critical: string[] = []): Promise<void> {
  await publishManifest(h, versions, 1, { critical, expires: "2026-11-27T00:00:00Z" });
}

async function apply(h: Harness, version: unknown): Promise<void> {
  await ok(h.req("PUT", "/v1/resources/autoupdate_config", CONFIG_YAML, undefined, "application/yaml"));
  await ok(h.req("PUT", "/v1/resources/autoupdate_version", version));
}

describe("find/ping bodies", () => {
  test("no version policy yet, with and without a server version", async () => {
    golden("find_none.golden", await findText(await harness(), ""));
    golden("find_none_no_server.golden", await findText(await harness({ serverVersion: null }), "prod"));
  });

  test("a halt-on-error rollout: canary, not a canary, a later group, an unknown group", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await report(h, "c1", "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    await publish(h, ["16.4.0", "17.0.1"]);
    await apply(h, versionDoc("16.4.0", "17.0.1", "17.0.1"));
    golden("find_canary_c1.golden", await findText(h, "canary", "c1"));
    golden("find_canary_other.golden", await findText(h, "canary", "x9"));
    golden("find_prod.golden", await findText(h, "prod", "p1"));
    golden("find_unknown_group.golden", await findText(h, "no-such-group"));
    await report(h, "c1", "canary", "16.4.0", "failed", { failed_version: "17.0.1", error: "smoke" });
    golden("find_canary_rolledback.golden", await findText(h, "canary", "c1"));
  });

  test("capped and raised at the server version; ent, FIPS, jitter and cache seconds; critical", async () => {
    const h = await harness({
      start: "2026-11-23T08:30:00Z",
      info: { edition: "ent", fips: true, jitterSeconds: 90, toolsCacheSeconds: 120, clusterName: "east" },
    });
    await publish(h, ["14.0.0", "17.0.1", "18.0.0"], ["18.0.0"]);
    await apply(h, versionDoc("14.0.0", "18.0.0", "18.0.0", "immediate"));
    golden("find_capped_ent_fips.golden", await findText(h, "prod"));
    const raised = await harness({ start: "2026-11-23T08:30:00Z", serverVersion: "17.0.1" });
    await publish(raised, ["14.0.0", "17.0.1"], ["17.0.1"]);
    await apply(raised, versionDoc("14.0.0", "17.0.1"));
    golden("find_raised.golden", await findText(raised, "prod"));
  });

  test("the updater version: the server's own once upkeep-releases.json lists it", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z", ownVersion: "0.3.0" });
    await publish(h, ["16.4.0", "17.0.1"]);
    await publishSelfManifest(h, ["0.2.0", "0.3.0"]);
    await apply(h, versionDoc("16.4.0", "17.0.1", "17.0.1"));
    golden("find_updater.golden", await findText(h, "prod"));
    golden("view_server_updater.golden", await ok(h.req("GET", "/v1/server", undefined, VIEWER)));
  });

  test("an internal error answers do-not-update", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    await publish(h, ["16.4.0", "17.0.1"]);
    await apply(h, versionDoc("16.4.0", "17.0.1", "17.0.1"));
    h.clock.now = new Date(Number.NaN);
    golden("find_internal_error.golden", await findText(h, "prod"));
  });
});

describe("API views", () => {
  test("rollout, server, releases, agents and tokens, before and during a rollout", async () => {
    const h = await harness({ start: "2026-11-23T08:30:00Z" });
    const get = (path: string) => ok(h.req("GET", path, undefined, VIEWER));
    golden("view_rollout_empty.golden", await get("/v1/rollout"));
    golden("view_releases_empty.golden", await get("/v1/releases"));
    await report(h, "c1", "canary", "16.4.0");
    await report(h, "p1", "prod", "16.4.0");
    await report(h, "p2", "prod", "16.4.0", "rolledback", { error: "unhealthy", failed_version: "16.3.0" });
    await publish(h, ["16.4.0", "17.0.1", "18.0.0"], ["18.0.0"]);
    await ok(h.req("POST", "/v1/releases", { version: "17.0.1", critical: true }));
    await apply(h, versionDoc("16.4.0", "18.0.0", "18.0.0"));
    await report(h, "c1", "canary", "17.0.1");
    golden("view_rollout.golden", await get("/v1/rollout"));
    golden("view_rollout_rollback.golden", await ok(h.req("POST", "/v1/rollout/groups/prod/rollback")));
    golden("view_server.golden", await get("/v1/server"));
    golden("view_releases.golden", await get("/v1/releases"));
    golden("view_agents.golden", await get("/v1/agents"));
    golden("view_tokens.golden", await ok(h.req("GET", "/v1/tokens")));
    golden("view_config.golden", await get("/v1/resources/autoupdate_config"));
    golden("view_version.golden", await get("/v1/resources/autoupdate_version"));
  });
});
