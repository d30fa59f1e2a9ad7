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
