/**
 * Issue 10, item 2: a release manifest that verified is recorded (serial, floor) in tools.json before anything
 * else is decided, whatever becomes of the install; installed versions below its floor are removed and never
 * run again. Compiled binary, a real `upkeep serve` hosting signed fake releases.
 *
 * The scenario of the report, its 1.x versions as 6.x (the server runs 6.3.0, and serves no tools target of
 * another major): 6.0.5 installed from serial 3000 (no floor); the release engineer publishes serial 3001 with
 * floor 6.1.0; the server names 6.0.0 (below it), or a version the manifest does not list. Before the fix
 * `tools update` failed but tools.json kept serial 3000 and no floor, and `tools exec` went on running 6.0.5
 * with only a warning.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Developer,
  loggedInDeveloper,
  publish,
  STACK,
  setToolsTarget,
  useWorld,
  type World,
} from "./agent_helpers.ts";
import { type RunResult, upkeep } from "./cli.ts";

type User = Developer;

let w: World;
const users: Record<"update" | "exec" | "missing" | "newer", User> = {} as never;

/** Publishes signed releases whose manifest has this serial and floor (each call its own folder). */
const publishManifest = (versions: string[], serial: number, floor?: string) =>
  publish(w, versions, `release-${serial}`, undefined, { serial, ...(floor ? { floor } : {}) });

/** Makes the server name this client-tools version. */
const nameTools = (version: string, ...flags: string[]) => setToolsTarget(w, version, ...flags);

const toolsJson = (u: User) => JSON.parse(readFileSync(join(u.tools, "tools.json"), "utf8"));
const run = (u: User, args: string[]) => upkeep(args, { env: u.env });
const version = (u: User) => run(u, ["tools", "exec", "hello", "version"]);

/** The cached server answer made stale: the next run of a tool asks the server first. */
function staleCache(u: User) {
  const st = toolsJson(u);
  st.cache.fetchedAt = 0;
  writeFileSync(join(u.tools, "tools.json"), JSON.stringify(st));
}

/** The floor of the manifest of serial 3001 (6.1.0) is recorded, and 6.0.5, below it, removed. */
function expectFloorRecorded(u: User): void {
  expect(toolsJson(u)).toMatchObject({ lastSerial: 3001, floor: "6.1.0" });
  expect(existsSync(join(u.tools, "6.0.5"))).toBe(false);
}

/** `hello version` does not run 6.0.5 (below the floor): it fails, without a stack trace. */
async function versionRefused(u: User): Promise<RunResult> {
  const r = await version(u);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stdout).not.toContain("hello v6.0.5");
  expect(r.code).not.toBe(0);
  return r;
}

/** A fresh user logged in to the server (enrolled), with the version the server names installed and run. */
async function newUser(expected: string): Promise<User> {
  const u = await loggedInDeveloper(w);
  const r = await version(u);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stdout.trim(), r.stderr).toBe(`hello v${expected}`);
  return u;
}

useWorld("tools-floor-record", record, { serveArgs: ["--server-version", "6.3.0"] });

async function record(world: World): Promise<void> {
  w = world;
  // Serial 3000, no floor: every user ends up with 6.0.5 installed (and "newer" with 6.1.0 as well).
  await publishManifest(["6.0.0", "6.0.5", "6.1.0"], 3000);
  await nameTools("6.1.0");
  users.newer = await newUser("6.1.0");
  await nameTools("6.0.5");
  for (const k of ["update", "exec", "missing"] as const) users[k] = await newUser("6.0.5");
  const up = await run(users.newer, ["tools", "update"]);
  expect(up.code).toBe(0);
  expect((await version(users.newer)).stdout.trim()).toBe("hello v6.0.5"); // 6.0.5 is the latest used
  for (const u of Object.values(users)) {
    expect(toolsJson(u).lastSerial).toBe(3000);
    expect(toolsJson(u).floor).toBeUndefined();
    expect(existsSync(join(u.tools, "6.0.5"))).toBe(true);
  }
  // The release engineer withdraws 6.0.x: serial 3001, floor 6.1.0.
  await publishManifest(["6.0.0", "6.0.5", "6.1.0"], 3001, "6.1.0");
}

describe("a verified manifest's serial and floor are recorded whatever becomes of the install", () => {
  test("the server names 6.0.0, below the new floor: `tools update` fails, yet records the floor; 6.0.5 is removed and no longer runs", async () => {
    await nameTools("6.0.0");
    const u = users.update;
    const up = await run(u, ["tools", "update"]);
    expect(up.stderr).not.toMatch(STACK);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain("E_BELOW_FLOOR");
    expectFloorRecorded(u);

    const r = await versionRefused(u);
    expect(r.stderr).toContain("E_BELOW_FLOOR");
    expect(r.stderr).toContain("below the floor v6.1.0");
  });

  test("the same when the tool itself is the first to see the new manifest (`tools exec`)", async () => {
    await nameTools("6.0.0");
    const u = users.exec;
    staleCache(u);
    const r = await versionRefused(u);
    expect(r.stderr).toContain("E_BELOW_FLOOR");
    expectFloorRecorded(u);
    const again = await version(u); // now refused on the up-to-date path, without asking anything
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("below the floor v6.1.0");
  });

  test("with a version at or above the floor installed, that one runs (with a warning), not the last used below it", async () => {
    await nameTools("6.0.0");
    const u = users.newer;
    staleCache(u);
    const r = await version(u);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("hello v6.1.0");
    expect(r.stderr).toContain("below the floor");
    expectFloorRecorded(u);
    expect(existsSync(join(u.tools, "6.1.0"))).toBe(true);
  });

  test("the server names a version the manifest does not list: the floor is recorded all the same", async () => {
    await nameTools("6.2.0", "--force"); // admin apply refuses an unlisted version without it
    const u = users.missing;
    const up = await run(u, ["tools", "update"]);
    expect(up.stderr).not.toMatch(STACK);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain("do not exist in the release manifest");
    expectFloorRecorded(u);
    await versionRefused(u);
  });
});
