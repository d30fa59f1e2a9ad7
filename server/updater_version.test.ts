/**
 * The updater version a server wants (DESIGN §9): find `upkeep.updater_version`, by default the server's own
 * version once it hosts that release (upkeep-releases.json lists it); `kind: server` `updater_version` pins it,
 * turns it off or back to auto; a version agents cannot install from this server is refused unless forced.
 */
import { describe, expect, test } from "bun:test";
import { AGENT, type Harness, harness, publishSelfManifest, VIEWER } from "./test_harness.ts";

async function updaterOf(h: Harness, group = "prod"): Promise<string> {
  const r = await h.app.request(`/v1/webapi/find?group=${group}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { upkeep: { updater_version: string } }).upkeep.updater_version;
}

async function server(h: Harness) {
  const r = await h.req("GET", "/v1/server", undefined, VIEWER);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

async function apply(h: Harness, doc: unknown, query = "") {
  const r = await h.req("POST", `/v1/apply${query}`, { resources: [doc] });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe("the default: the server's own version once it hosts that release", () => {
  test("none until upkeep-releases.json lists it; then every group is told, at once", async () => {
    const h = await harness({ ownVersion: "0.3.0" });
    expect(await updaterOf(h)).toBe("");
    expect(await server(h)).toMatchObject({
      upkeep_version: "0.3.0",
      updater_version_setting: "auto",
      updater_version: null,
    });
    expect(String((await server(h)).updater_version_reason)).toContain(
      "no upkeep-releases.json is published",
    );
    await publishSelfManifest(h, ["0.2.0"]);
    expect(await updaterOf(h)).toBe("");
    expect(String((await server(h)).updater_version_reason)).toContain(
      "does not list this server's version 0.3.0",
    );
    await publishSelfManifest(h, ["0.2.0", "0.3.0"], 2);
    expect(await updaterOf(h)).toBe("0.3.0");
    expect(await updaterOf(h, "no-such-group")).toBe("0.3.0");
    expect(await server(h)).toMatchObject({ updater_version: "0.3.0", updater_version_setting: "auto" });
  });

  test("a server whose own version is not known names none by default", async () => {
    const h = await harness();
    await publishSelfManifest(h, ["0.3.0"]);
    expect(await updaterOf(h)).toBe("");
  });
});

describe("kind: server updater_version", () => {
  test("pin a published version, turn it off, back to auto; survives a restart", async () => {
    const db = `${process.env.TMPDIR ?? "/tmp"}/upkeep-updater-${crypto.randomUUID()}.db`;
    const h = await harness({ ownVersion: "0.3.0", db });
    await publishSelfManifest(h, ["0.2.0", "0.3.0"]);
    // Only the updater: no server_version needed, and the product's manifest is not asked for.
    expect((await apply(h, { kind: "server", updater_version: "v0.2.0" })).status).toBe(200);
    expect(await updaterOf(h)).toBe("0.2.0");
    expect(await server(h)).toMatchObject({ updater_version_setting: "0.2.0", server_version: "17.0.1" });
    expect((await apply(h, { kind: "server", spec: { updater_version: "off" } })).status).toBe(200);
    expect(await updaterOf(h)).toBe("");
    expect(String((await server(h)).updater_version_reason)).toContain("off");
    h.store.close();
    const again = await harness({ ownVersion: "0.3.0", db });
    await publishSelfManifest(again, ["0.2.0", "0.3.0"]); // a new artifacts folder: published again
    expect(await updaterOf(again)).toBe("");
    expect((await apply(again, { kind: "server", updater_version: "auto" })).status).toBe(200);
    expect(await updaterOf(again)).toBe("0.3.0");
  });

  test("a version upkeep-releases.json does not list is refused (nothing applied) unless forced", async () => {
    const h = await harness({ ownVersion: "0.3.0" });
    const none = await apply(h, { kind: "server", updater_version: "0.4.0" });
    expect(none.status).toBe(409);
    expect(none.body.code).toBe("E_NOT_IN_MANIFEST");
    expect(String((none.body.error as { message: string }).message)).toContain(
      "no upkeep-releases.json is published",
    );
    await publishSelfManifest(h, ["0.3.0"]);
    const missing = await apply(h, { kind: "server", updater_version: "0.4.0" });
    expect(missing.status).toBe(409);
    expect(String((missing.body.error as { message: string }).message)).toContain(
      "updater_version 0.4.0 is not in the upkeep-releases.json",
    );
    expect(await updaterOf(h)).toBe("0.3.0");
    const forced = await apply(h, { kind: "server", updater_version: "0.4.0" }, "?force=1");
    expect(forced.status).toBe(200);
    expect(forced.body.forced).toEqual(["0.4.0"]);
    expect(await updaterOf(h)).toBe("0.4.0");
  });

  test.each([
    ["not a version", { kind: "server", updater_version: "latest" }, "updater_version"],
    ["neither field", { kind: "server", spec: {} }, "server_version"],
  ])("%s: 400 naming the field", async (_what, doc, field) => {
    const h = await harness({ ownVersion: "0.3.0" });
    const r = await apply(h, doc);
    expect(r.status).toBe(400);
    expect((r.body.problems as { path: string }[]).map((p) => p.path)).toEqual([field]);
    expect(await updaterOf(h)).toBe("");
  });
});

test("reports carry the updater's version and failed self-update; GET /v1/agents shows them", async () => {
  const h = await harness();
  const report = (body: Record<string, unknown>) =>
    h.req(
      "POST",
      "/v1/agents/report",
      { updater_id: "a1", hostname: "a1.local", group: "prod", version: "17.0.1", state: "ok", ...body },
      AGENT,
    );
  expect((await report({ updater_version: "0.2.0", updater_failed_version: "0.3.0" })).status).toBe(200);
  const page = (await (await h.req("GET", "/v1/agents", undefined, VIEWER)).json()) as {
    agents: Record<string, unknown>[];
  };
  expect(page.agents[0]).toMatchObject({ updater_version: "0.2.0", updater_failed_version: "0.3.0" });
  const bad = await report({ updater_version: "new" });
  expect(bad.status).toBe(400);
});
