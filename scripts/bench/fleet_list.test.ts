/**
 * The fleet simulator's reading of `GET /v1/agents` (listAgents, lossCheck) at a small N, against the real
 * app on loopback (in-memory store): every page followed, every agent checked; and in front of it, a proxy
 * that breaks the paging (cut short, the cursor ignored), which the reading must catch.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { AGENT, harness, VIEWER } from "../../server/test_harness.ts";
import { listAgents, lossCheck } from "./fleet_list.ts";
import { smallFleet } from "./fleet_testing.ts";

const N = 250;
const servers: { stop: (force?: boolean) => unknown }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

/** The real app on 127.0.0.1, `N` simulated agents that reported once, and a GET of its JSON. */
async function world(rewrite: (answer: Record<string, unknown>, url: URL) => unknown = (a) => a) {
  // The server's clock a minute ahead: every record is seen after the simulator sent its report.
  const h = await harness({ start: new Date(Date.now() + 60_000).toISOString() });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => h.app.fetch(req) });
  servers.push(server);
  const fleet = smallFleet(N, {
    urls: [`http://127.0.0.1:${server.port}`],
    agentToken: AGENT,
    runId: "list",
  });
  await fleet.seed(0, N);
  expect(fleet.acked).toBe(N);
  const requested: string[] = [];
  const get = async (path: string) => {
    requested.push(path);
    const r = await fetch(`http://127.0.0.1:${server.port}${path}`, {
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    expect(r.status).toBe(200);
    return rewrite((await r.json()) as Record<string, unknown>, new URL(path, "http://x"));
  };
  return { fleet, get, requested };
}

describe("listAgents over a paged GET /v1/agents", () => {
  test("follows every page (7 agents a page: 36 pages) and finds every agent and nothing lost", async () => {
    const { fleet, get, requested } = await world();
    const c = await lossCheck("now", get, fleet, 7);
    expect(c).toMatchObject({ listed: N, pages: 36, listProblem: "", lost: 0, missing: 0, checked: N });
    expect(requested[0]).toBe("/v1/agents?limit=7");
    expect(requested[1]).toMatch(/^\/v1\/agents\?limit=7&cursor=[A-Za-z0-9_-]+$/);
    // By default, pages of the server's most (1,000): one page here.
    expect(await listAgents(get)).toMatchObject({ pages: 1, total: N, problem: "" });
  });

  test("a listing cut short (no next after page 2) is caught: listed 14 of the 250 the server counts", async () => {
    const { fleet, get } = await world((a, url) =>
      url.searchParams.has("cursor") ? { ...a, next: null } : a,
    );
    const list = await listAgents(get, 7);
    expect(list.records).toHaveLength(14);
    expect(list.problem).toBe("listed 14 agents of the 250 the server counts");
    const c = await lossCheck("now", get, fleet, 7);
    expect(c.listProblem).toBe(list.problem);
  });

  test("a server that ignores the cursor: stops at the second page (the first one again), not a loop", async () => {
    const { get, requested } = await world();
    const ignoring = (path: string) => get(path.replace(/&cursor=[^&]*/, ""));
    const list = await listAgents(ignoring, 7);
    expect(list.pages).toBe(2);
    expect(list.problem).toMatch(/^page 2 lists sim-list-\d+ again$/);
    expect(requested).toHaveLength(2);
  }, 20_000);

  test("a server that lists whole (no total, no next, as serve before paging) is read in one page", async () => {
    const { fleet, get } = await world((a) => ({ agents: a.agents }));
    const whole = () => get("/v1/agents?limit=1000"); // every query parameter ignored
    const c = await lossCheck("now", whole, fleet, 7);
    expect(c).toMatchObject({ listed: N, pages: 1, listProblem: "", lost: 0 });
  });
});
