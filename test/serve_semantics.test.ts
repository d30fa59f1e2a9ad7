/**
 * What the server tells hosts, end to end (compiled binary, real serve, real agents):
 * - `server_version` (issue 11, trap 1): without it there is no cap and no raise, agents get the rollout's
 *   versions as given; before any version policy nothing is installed and the agent says why; with it, every
 *   cap or raise is in `admin get rollout` and in the agent's error.
 * - a partial `admin apply` (trap 9) never silently drops a section that is set now.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import {
  enable,
  type Host,
  host,
  publish,
  readStateFile,
  STACK,
  useWorld,
  versionDirs,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;

// No --server-version.
useWorld("semantics", async (world) => {
  w = world;
  // 1.3.0 is in the signed manifest, but its artifact is not on the server: installing it fails.
  await publish(w, ["1.0.0", "1.1.0", "1.3.0"], "release", (rel) => {
    rel.artifacts = rel.artifacts.filter((a) => a.version !== "1.3.0");
  });
});

async function apply(yaml: string) {
  return upkeep(["admin", "apply", "-f", "-"], { env: w.env, stdin: yaml });
}

type View = {
  server_version: string | null;
  effective_target_version: string | null;
  target_adjusted: { kind: string; from: string; to: string; why: string } | null;
  groups: { name: string; effective_version: string; adjusted: { kind: string; why: string } | null }[];
};

async function rollout(): Promise<View> {
  const r = await upkeep(["admin", "get", "rollout", "--json"], { env: w.env });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as View;
}

/** `agent enable` of a new host `name` fails, saying each of `says`, without a stack and without a state file. */
async function enableRefused(name: string, says: string[]): Promise<Host> {
  const h = host(w, name);
  const r = await enable(w, h);
  expect(r.code).not.toBe(0);
  for (const s of says) expect(r.stderr).toContain(s);
  expect(r.stderr).not.toMatch(STACK);
  expect(existsSync(h.stateFile)).toBe(false);
  return h;
}

describe("server_version (a product without a control plane has none)", () => {
  test("agent enable before any version policy installs nothing and says why", async () => {
    const h = await enableRefused("early", [
      "names no version to install yet",
      "no version policy yet",
      "nothing was installed",
    ]);
    expect(versionDirs(h)).toEqual([]);
  });

  test("without server_version, hosts get the rollout's versions as given", async () => {
    const a = await apply(
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.1.0, schedule: immediate }\n",
    );
    expect(a.code).toBe(0);
    const h = host(w, "given");
    const r = await enable(w, h);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(readStateFile(h).status.active).toBe("1.1.0");
    const v = await rollout();
    expect(v).toMatchObject({
      server_version: null,
      effective_target_version: "1.1.0",
      target_adjusted: null,
    });
    expect(v.groups.map((g) => [g.effective_version, g.adjusted])).toEqual([["1.1.0", null]]);
  });

  test("with server_version, a cap shows in admin get rollout and a raise in the agent's error", async () => {
    expect((await apply("kind: server\nserver_version: 1.0.0\n")).code).toBe(0);
    const capped = await rollout();
    expect(capped.effective_target_version).toBe("1.0.0");
    expect(capped.target_adjusted).toMatchObject({ kind: "capped", from: "1.1.0", to: "1.0.0" });
    expect(capped.groups[0]).toMatchObject({ effective_version: "1.0.0", adjusted: { kind: "capped" } });

    // 1.1.0 is two minors behind 1.3.0 on the legacy line: raised to 1.3.0, whose artifact is missing.
    expect((await apply("kind: server\nserver_version: 1.3.0\n")).code).toBe(0);
    await enableRefused("raised", [
      "first install of 1.3.0 failed",
      "1.3.0 is the server's choice: target 1.1.0 is too old",
      "raised to the server version 1.3.0",
    ]);
  });
});

describe("admin apply of a partial resource", () => {
  test("leaving out a section that is set now is refused naming it; `tools: null` removes it", async () => {
    const both =
      "kind: autoupdate_version\nspec:\n  tools: { target_version: 1.1.0 }\n  agents: { start_version: 1.0.0, target_version: 1.1.0, schedule: immediate }\n";
    expect((await apply(both)).code).toBe(0);
    const partial = await apply(
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.0.0, schedule: immediate }\n",
    );
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain("spec.tools: missing, but the stored autoupdate_version sets it");
    expect(partial.stderr).toContain("tools: null");
    expect(partial.stderr).toContain("nothing was applied");
    const get = async () =>
      JSON.parse((await upkeep(["admin", "get", "version", "--json"], { env: w.env })).stdout) as {
        spec: { tools?: unknown; agents: { target_version: string } };
      };
    expect(await get()).toMatchObject({
      spec: { tools: { target_version: "1.1.0" }, agents: { target_version: "1.1.0" } },
    });
    const removed = await apply(
      "kind: autoupdate_version\nspec:\n  tools: null\n  agents: { start_version: 1.0.0, target_version: 1.0.0, schedule: immediate }\n",
    );
    expect(removed.code).toBe(0);
    const after = await get();
    expect(after.spec.tools).toBeUndefined();
    expect(after.spec.agents.target_version).toBe("1.0.0");
  });
});
