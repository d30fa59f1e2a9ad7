import { afterAll, describe, expect, test } from "bun:test";
import { probeUrl } from "./probe.ts";

// A daemon whose health endpoint answers 200 and then streams forever: only the status counts.
const endless = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (req) =>
    new URL(req.url).pathname === "/down"
      ? new Response("no", { status: 503 })
      : new Response(
          new ReadableStream({
            pull: async (c) => {
              await Bun.sleep(1);
              c.enqueue(new Uint8Array(64 * 1024));
            },
          }),
        ),
});
afterAll(() => endless.stop(true));

describe("probeUrl", () => {
  test("an endless 200 answer is healthy at once: the body is never read (it was, into memory, until the timeout)", async () => {
    const t0 = performance.now();
    const r = await probeUrl(`http://127.0.0.1:${endless.port}/health`, 20_000);
    expect(r).toEqual({ ok: true, detail: `http://127.0.0.1:${endless.port}/health answered 200` });
    // Half the probe's own timeout: the old code read the body until the timeout fired.
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 30_000);
  test("a 503 is not", async () => {
    const r = await probeUrl(`http://127.0.0.1:${endless.port}/down`, 3000);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain("answered 503");
  });
});
