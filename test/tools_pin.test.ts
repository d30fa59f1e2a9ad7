/**
 * `tools pin VERSION` is checked against the verified release manifest at pin time (issue 11, trap 8): a
 * version that is not published is refused with the versions that are, instead of failing at the next run;
 * when the mirror cannot say, the pin is made with a warning. Compiled binary, real serve.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { developer, publish, setToolsTarget, toolsLogin, useWorld, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

let w: World;

useWorld("pin", async (world) => {
  w = world;
  await publish(w, ["5.0.0", "5.1.0", "5.2.0"]);
  await setToolsTarget(w, "5.1.0");
});

const user = () => developer(w).env;

async function login(env: Record<string, string>, baseUrl = `${w.url}/artifacts`) {
  expect((await toolsLogin(w, env, ["--base-url", baseUrl])).code).toBe(0);
}

const pinned = (env: Record<string, string>) => {
  const p = join(env.UPKEEP_TOOLS_DIR as string, "tools.json");
  return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")).pinned : undefined;
};

describe("tools pin checks the release manifest", () => {
  test("an unpublished version is refused with the published ones; nothing is pinned", async () => {
    const env = user();
    await login(env);
    const r = await upkeep(["tools", "pin", "9.9.9"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "client tools v9.9.9 are not in the hello release manifest (E_NOT_IN_MANIFEST)",
    );
    expect(r.stderr).toContain("published: v5.2.0, v5.1.0, v5.0.0 (nothing was pinned)");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(pinned(env)).toBeUndefined();
    // A published one is pinned, and says it was checked.
    const ok = await upkeep(["tools", "pin", "5.0.0"], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("client tools pinned to v5.0.0 (published in the release manifest)");
    expect(pinned(env)).toBe("5.0.0");
    expect((await upkeep(["tools", "exec", "hello", "version"], { env })).stdout.trim()).toBe("hello v5.0.0");
    // The refusal keeps the pin there was.
    expect((await upkeep(["tools", "pin", "5.9.0"], { env })).code).toBe(2);
    expect(pinned(env)).toBe("5.0.0");
  });

  test("the mirror cannot be asked: pinned with a warning that says so; an installed version needs no mirror", async () => {
    const env = user();
    await login(env);
    expect((await upkeep(["tools", "exec", "hello", "version"], { env })).stdout.trim()).toBe("hello v5.1.0");
    // The mirror goes away (a closed port).
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const dead = `http://127.0.0.1:${closed.port}/artifacts`;
    closed.stop(true);
    await login(env, dead);
    const r = await upkeep(["tools", "pin", "5.2.0", "--json"], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ pinned: "5.2.0", checked: "unchecked" });
    expect(r.stderr).toContain("WARNING: v5.2.0 was not checked against the release manifest (");
    expect(r.stderr).toContain("pinned anyway");
    const installed = await upkeep(["tools", "pin", "5.1.0", "--json"], { env });
    expect(installed.code).toBe(0);
    expect(installed.stderr).toBe("");
    expect(JSON.parse(installed.stdout)).toEqual({ pinned: "5.1.0", checked: "installed" });

    // Not logged in at all: nothing to check against, pinned with a warning.
    const fresh = user();
    const none = await upkeep(["tools", "pin", "5.2.0"], { env: fresh });
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("was not checked against the release manifest");
    expect(pinned(fresh)).toBe("5.2.0");
  });

  test("a version below the manifest's floor is refused with the installable ones", async () => {
    const env = user();
    await login(env);
    // The same releases again, now with a floor (and a higher serial).
    await publish(w, ["5.0.0", "5.1.0", "5.2.0"], "floor", undefined, {
      floor: "5.1.0",
      serial: Math.floor(Date.now() / 1000) + 100,
    });
    const r = await upkeep(["tools", "pin", "5.0.0"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "client tools v5.0.0 are below the floor v5.1.0 of the hello release manifest",
    );
    expect(r.stderr).toContain("installable: v5.2.0, v5.1.0");
    expect(pinned(env)).toBeUndefined();
  });
});
