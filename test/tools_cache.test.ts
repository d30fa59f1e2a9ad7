/**
 * How soon a developer's shell follows the cluster (issue 11, trap 7): the server advertises how long its find
 * answer may be cached (`upkeep.cache_seconds`, default 300, config `tools_cache_seconds`), the tools client
 * keeps it that long (10 s..1 h), and `tools status` shows the answer's age and when it is stale. Compiled
 * binary, real serve, real shims.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cleanup,
  closeWorld,
  developer,
  publish,
  setToolsTarget,
  startWorld,
  toolsLogin,
  useWorld,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

let w: World;

// A short lifetime, so the test can watch it pass.
useWorld("cache", tools800, { config: { tools_cache_seconds: 10 } });

/** Two releases; the server names 8.0.0 for the client tools. */
async function tools800(world: World): Promise<void> {
  w = world;
  await publish(w, ["8.0.0", "8.1.0"]);
  await setToolsTarget(w, "8.0.0");
}

const user = () => developer(w).env;

const status = async (env: Record<string, string>) => {
  const r = await upkeep(["tools", "status", "--json"], { env });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe("the tools cache lifetime", () => {
  test("the find answer advertises it: the configured value, 300 s by default", async () => {
    const find = (await (await fetch(`${w.url}/v1/webapi/find`)).json()) as {
      upkeep: { cache_seconds: number };
    };
    expect(find.upkeep.cache_seconds).toBe(10);
    const other = await startWorld("cache-default");
    try {
      const d = (await (await fetch(`${other.url}/webapi/find`)).json()) as {
        upkeep: { cache_seconds: number };
      };
      expect(d.upkeep.cache_seconds).toBe(300);
    } finally {
      await closeWorld(other);
    }
  });

  test("a configured lifetime outside 10..3600 s is refused at start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "upkeep-cache-bad-"));
    try {
      const config = join(dir, "serve.yaml");
      writeFileSync(config, "tools_cache_seconds: 5\n");
      const r = await upkeep([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        join(dir, "d"),
        "--config",
        config,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("tools_cache_seconds: must be an integer 10..3600");
    } finally {
      cleanup(dir);
    }
  });

  test("after the server's tools target changes, the shim follows within the advertised lifetime", async () => {
    const env = user();
    expect((await toolsLogin(w, env)).code).toBe(0);
    const run = () => upkeep(["tools", "exec", "hello", "version"], { env });
    expect((await run()).stdout.trim()).toBe("hello v8.0.0");
    const before = await status(env);
    expect(before).toMatchObject({
      cache_seconds: 10,
      cache_seconds_from: "server",
      server_version: "8.0.0",
    });
    const text = await upkeep(["tools", "status"], { env });
    expect(text.stdout).toMatch(/checked \S+Z \(\d+s ago; kept for 10s, as the server says\)/);

    await setToolsTarget(w, "8.1.0");
    // Within the lifetime (plus generous slack for a loaded machine), the shim runs the new version; with
    // the old fixed hour it kept 8.0.0.
    const deadline = Date.now() + 40_000;
    let seen = "";
    while (Date.now() < deadline) {
      seen = (await run()).stdout.trim();
      if (seen === "hello v8.1.0") break;
      await Bun.sleep(1000);
    }
    expect(seen).toBe("hello v8.1.0");
    expect(await status(env)).toMatchObject({ server_version: "8.1.0", cache_stale: false });
  }, 60_000);

  test("tools status says when the cached answer is stale", async () => {
    const env = user();
    expect((await toolsLogin(w, env, ["--json"])).code).toBe(0);
    expect((await status(env)).cache_stale).toBe(false);
    // The lifetime passes with no tool run in between: the answer on disk is stale, and status says so.
    const deadline = Date.now() + 40_000;
    let st = await status(env);
    while (!st.cache_stale && Date.now() < deadline) {
      await Bun.sleep(1000);
      st = await status(env);
    }
    expect(st.cache_stale).toBe(true);
    expect(st.cache_age_seconds).toBeGreaterThanOrEqual(10);
    const text = await upkeep(["tools", "status"], { env });
    expect(text.stdout).toMatch(
      /ago: STALE, older than 10s, as the server says; the next tool run asks again/,
    );
  }, 60_000);
});
