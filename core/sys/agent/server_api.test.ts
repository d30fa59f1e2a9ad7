/** The agent's calls to the version server: what a refused report says, and the updater id find sends. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AgentSpec } from "../../agent/types.ts";
import { find, sendReport } from "./server_api.ts";

let server: ReturnType<typeof Bun.serve>;
let lastFind = "";

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/v1/webapi/find") {
        lastFind = url.search;
        return Response.json({ auto_update: { agent_version: "1.2.3", agent_auto_update: false } });
      }
      if (req.headers.get("authorization") === "Bearer old")
        return Response.json({ error: "invalid token" }, { status: 401 });
      if (req.headers.get("authorization") === "Bearer text")
        return new Response("gone away", { status: 502 });
      return Response.json({ error: { message: "invalid token" }, code: "E_UNAUTHORIZED" }, { status: 401 });
    },
  });
});

afterAll(() => server.stop(true));

const spec = (token: string) =>
  ({ server: `http://127.0.0.1:${server.port}`, token, group: "prod", updaterId: "u-1" }) as AgentSpec;

test("a refused report says the server's message, in Teleport's shape or the flat one, or the text as it came", async () => {
  const url = `http://127.0.0.1:${server.port}/v1/agents/report`;
  const report = { state: "ok" as const, version: "1.2.3" };
  expect(await sendReport(spec("t"), report)).toBe(`report to ${url} refused: 401 invalid token`);
  expect(await sendReport(spec("old"), report)).toBe(`report to ${url} refused: 401 invalid token`);
  expect(await sendReport(spec("text"), report)).toBe(`report to ${url} refused: 502 gone away`);
});

test("find names the group and the updater id, under upkeep's name and Teleport's", async () => {
  const a = await find(spec(""));
  expect(a.agentVersion).toBe("1.2.3");
  expect(new URLSearchParams(lastFind).get("group")).toBe("prod");
  expect(new URLSearchParams(lastFind).get("updater_id")).toBe("u-1");
  expect(new URLSearchParams(lastFind).get("update_id")).toBe("u-1"); // Teleport's name for it
});
