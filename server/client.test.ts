/**
 * The admin API client's answers are bounded like every other network read: at most 16 MiB, read within the
 * call's time limit; the error says which ("larger than", "timed out"), not "without JSON".
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { isUpkeepError } from "../core/errors.ts";
import { type HostileServer, startHostileServer } from "../test/hostile_server.ts";
import { ApiClient } from "./client.ts";

let bad: HostileServer;

beforeAll(() => {
  bad = startHostileServer("http://127.0.0.1:9");
  bad.misbehave((p) => p === "/v1/server", { kind: "endless" });
  bad.misbehave((p) => p === "/v1/rollout", { kind: "drip", everyMs: 50 });
});

afterAll(() => bad.stop());

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    return { code: e.code, message: e.message };
  }
  throw new Error("expected a failure");
}

test("an endless answer stops at 16 MiB", async () => {
  const c = new ApiClient({ server: bad.url, token: "t" });
  const f = await failure(c.getServer());
  expect(f).toEqual({
    code: "E_SERVER",
    message: "GET /v1/server: the server's answer is larger than 16 MiB",
  });
});

test("a dripping answer ends at the call's time limit: 'timed out'", async () => {
  const c = new ApiClient({ server: bad.url, token: "t", timeoutMs: 600 });
  const t0 = performance.now();
  const f = await failure(c.getRollout());
  expect(f).toEqual({ code: "E_NETWORK", message: "GET /v1/rollout: timed out after 0.6 s" });
  expect(performance.now() - t0).toBeLessThan(10_000);
});

test("a refusal's message and code are read in Teleport's shape and in the flat one of older servers", async () => {
  const bodies: Record<string, unknown> = {
    "/v1/server": {
      error: { message: "spec.agents.mode: must be enabled" },
      code: "E_BAD_RESOURCE",
      problems: [{ path: "spec.agents.mode", message: "must be enabled" }],
    },
    "/v1/rollout": { error: "no such group", code: "E_NOT_FOUND" },
  };
  const s = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      return Response.json(bodies[path], { status: path === "/v1/server" ? 400 : 404 });
    },
  });
  try {
    const c = new ApiClient({ server: `http://127.0.0.1:${s.port}`, token: "t" });
    const nested = await c.getServer().catch((e: unknown) => e);
    expect(nested).toMatchObject({
      code: "E_BAD_RESOURCE",
      message: "spec.agents.mode: must be enabled",
      serverCode: "E_BAD_RESOURCE",
      problems: [{ path: "spec.agents.mode", message: "must be enabled" }],
    });
    const flat = await c.getRollout().catch((e: unknown) => e);
    expect(flat).toMatchObject({ code: "E_NOT_FOUND", message: "no such group", serverCode: "E_NOT_FOUND" });
  } finally {
    s.stop(true);
  }
});
