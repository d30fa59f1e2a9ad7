/**
 * A hostile version server and mirror (test/hostile_server.ts, a proxy in front of a real serve) against the
 * compiled binary: every fetch has a total deadline (a mirror dripping one byte a second keeps an idle timer
 * happy forever) and every JSON answer a size cap checked while it streams (an endless find answer used to
 * fill the agent loop's memory). Each failure ends the pass with a clear error, the daemon untouched, and
 * nothing is held against the release.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ADMIN,
  agent,
  currentDir,
  enableArgs,
  type Host,
  host,
  type Loop,
  publish,
  readStateFile,
  STACK,
  startLoop,
  useWorld,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";
import {
  type HostileServer,
  type Misbehaviour,
  peakRss,
  runMeasured,
  startHostileServer,
} from "./hostile_server.ts";

setDefaultTimeout(60_000);

let w: World;
let bad: HostileServer;
let h: Host;
const MiB = 1024 * 1024;

/** Agents and tools target versions in one document (a second apply of the resource replaces the first). */
async function target(agents: string, tools: string): Promise<void> {
  const r = await upkeep(["admin", "apply", "-f", "-"], {
    env: w.env,
    stdin:
      "kind: server\nserver_version: 11.9.0\n---\nkind: autoupdate_version\nspec:\n" +
      `  agents: { start_version: ${agents}, target_version: ${agents}, schedule: immediate, mode: enabled }\n` +
      `  tools: { target_version: ${tools} }\n`,
  });
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
}

/** The part of update.yaml a stalled pass must leave as it was. */
function untouched(): void {
  expect(currentDir(h)).toBe("11.0.0");
  const st = readStateFile(h).status;
  expect(st.active).toBe("11.0.0");
  expect(st.skip).toEqual([]);
  expect(st.updating).toBeUndefined();
}

afterAll(() => bad?.stop());

/**
 * Runs `dist/upkeep ARGS` (runMeasured) while the proxy misbehaves `how` on the paths `on` accepts (it
 * behaves again after), logs how it ended, and checks that it ended by itself, without a stack trace.
 */
async function runAgainst(
  on: (path: string) => boolean,
  how: Misbehaviour,
  args: string[],
  env: Record<string, string> = {},
  limitMs?: number,
): Promise<Awaited<ReturnType<typeof runMeasured>>> {
  bad.misbehave(on, how);
  try {
    const r = await runMeasured(args, env, limitMs);
    console.log(
      `${args.slice(0, 2).join(" ")}, ${how.kind}: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, ` +
        `peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB: ${`${r.stdout}${r.stderr}`.trim()}`,
    );
    expect(r.killed).toBe(false);
    expect(r.stderr).not.toMatch(STACK);
    return r;
  } finally {
    bad.clear();
  }
}

useWorld("hostile", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  await target("11.0.0", "11.0.0");
  bad = startHostileServer(w.url);
  h = host(w, "h");
  // The agent knows the server and its mirror only through the proxy.
  const args = enableArgs(w, h).map((a) => (a.startsWith(w.url) ? bad.url + a.slice(w.url.length) : a));
  const r = await upkeep(args);
  if (r.code !== 0) throw new Error(r.stderr);
});

describe("a mirror that drips (total deadlines)", () => {
  test("the manifest's .minisig one byte a second: agent update --now ends with 'timed out after 10 s'", async () => {
    await target("11.1.0", "11.0.0");
    const r = await runAgainst(
      (p) => p.endsWith("/hello-releases.json.minisig"),
      { kind: "drip", everyMs: 1000 },
      ["agent", "update", ...h.where, "--now"],
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("hello-releases.json.minisig: timed out after 10 s");
    // The old code waited on the drip for hours (its idle timer restarted on every byte).
    expect(r.ms).toBeLessThan(45_000);
    untouched();
    expect(readStateFile(h).status.last_error).toContain("timed out after 10 s");
  });

  test("the artifact one byte a second: given up at its deadline (30 s plus its size at 64 KiB/s), .part kept", async () => {
    await target("11.1.0", "11.0.0");
    const r = await runAgainst(
      (p) => p.endsWith("-v11.1.0-linux-amd64-bin.tar.gz"),
      { kind: "drip", everyMs: 1000, real: true },
      ["agent", "update", ...h.where, "--now"],
      {},
      100_000,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /-v11\.1\.0-linux-amd64-bin\.tar\.gz: timed out after 30 s \(30 s plus \d+ bytes at the minimum rate of 64 KiB\/s\)/,
    );
    expect(r.ms).toBeLessThan(100_000);
    untouched();
    // Not a verdict about the release: the bytes so far are kept for the next pass to resume.
    const parts = readdirSync(join(h.root, "versions")).filter((n) => n.endsWith(".part"));
    expect(parts.length).toBe(1);
    // The mirror well again: the next pass resumes and updates.
    const ok = await agent(h, ["update", "--now", "--json"]);
    expect(ok.stderr).not.toMatch(STACK);
    expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: "switched", from: "11.0.0", to: "11.1.0" });
  }, 150_000);
});

describe("answers that never end (size caps while streaming)", () => {
  let loop: Loop | undefined;

  afterAll(async () => {
    await loop?.stop();
  });

  test("an endless find answer: the agent loop refuses it at 1 MiB and its memory stays flat", async () => {
    await target("11.0.0", "11.0.0");
    bad.misbehave((p) => p.endsWith("/webapi/find"), { kind: "endless" });
    const active = currentDir(h);
    try {
      loop = await startLoop(h);
      const before = bad.sent();
      const r = await runMeasured(["agent", "update", ...h.where, "--now"]);
      const peak = peakRss(loop.pid);
      const sent = bad.sent() - before;
      console.log(
        `endless find: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, the loop's peak RSS ${(peak / MiB).toFixed(0)} MiB, ` +
          `${(sent / MiB).toFixed(0)} MiB sent: ${r.stdout.trim()}`,
      );
      expect(r.killed).toBe(false);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("answer larger than 1 MiB");
      expect(r.stdout).not.toContain("not JSON");
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(300 * MiB);
      expect(readStateFile(h).status.last_error).toContain("answer larger than 1 MiB");
      expect(currentDir(h)).toBe(active);
    } finally {
      bad.clear();
      await loop?.stop();
      loop = undefined;
    }
  });
});

describe("stopping the agent during a stalled fetch", () => {
  test("SIGTERM while the manifest drips: the loop stops at once, not at the manifest's 30 s deadline", async () => {
    // Whatever an earlier test left active, the server names the other version: the loop's pass must fetch.
    const active = currentDir(h);
    await target(active === "11.1.0" ? "11.0.0" : "11.1.0", "11.0.0");
    bad.misbehave((p) => p.endsWith("/hello-releases.json"), { kind: "drip", everyMs: 1000 });
    let loop: Loop | undefined;
    try {
      const seen = bad.requests.length;
      loop = await startLoop(h);
      const asked = () => bad.requests.slice(seen).some((p) => p.endsWith("/hello-releases.json"));
      const end = Date.now() + 20_000;
      while (!asked() && Date.now() < end) await Bun.sleep(50);
      expect(asked()).toBe(true);
      await Bun.sleep(500);
      const t0 = performance.now();
      const code = await loop.stop();
      const ms = performance.now() - t0;
      console.log(`loop stopped ${ms.toFixed(0)} ms after SIGTERM during a dripping manifest (exit ${code})`);
      expect(code).toBe(0);
      // A third of the manifest's own deadline: the old loop waited for the fetch (15 s).
      expect(ms).toBeLessThan(10_000);
      expect(currentDir(h)).toBe(active);
      expect(readStateFile(h).status.updating).toBeUndefined();
    } finally {
      bad.clear();
      await loop?.stop();
      await target("11.0.0", "11.0.0");
    }
  });
});

describe("admin", () => {
  test("an endless answer to admin get: 'larger than 16 MiB', memory flat", async () => {
    const r = await runAgainst((p) => p === "/v1/server", { kind: "endless" }, ["admin", "get", "server"], {
      UPKEEP_SERVER: bad.url,
      UPKEEP_TOKEN: ADMIN,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("GET /v1/server: the server's answer is larger than 16 MiB");
    expect(r.peakRss).toBeLessThan(300 * MiB);
  });
});

describe("client tools", () => {
  const home = () => mkdtempSync(join(tmpdir(), "upkeep-hostile-home-"));
  let env: Record<string, string>;

  beforeAll(async () => {
    const dir = home();
    env = { HOME: dir, UPKEEP_TOOLS_DIR: join(dir, "tools"), UPKEEP_SERVER: "", UPKEEP_TOKEN: "" };
  });

  async function login(): Promise<void> {
    const r = await upkeep(
      [
        "tools",
        "login",
        "--server",
        bad.url,
        "--product",
        "hello",
        "--base-url",
        `${bad.url}/artifacts`,
        "--trust-key",
        w.pub,
      ],
      { env },
    );
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
  }

  test("tools update with an endless find answer: 'answer larger than 1 MiB', at once, memory flat", async () => {
    await target("11.0.0", "11.0.0");
    await login();
    const r = await runAgainst(
      (p) => p.endsWith("/webapi/find"),
      { kind: "endless" },
      ["tools", "update"],
      env,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("answer larger than 1 MiB");
    expect(r.peakRss).toBeLessThan(300 * MiB);
  });

  test("tools exec with a dripping mirror: a warning, the installed version runs", async () => {
    await target("11.0.0", "11.0.0");
    await login();
    const first = await upkeep(["tools", "exec", "hello", "version"], { env });
    expect(first.stderr).not.toMatch(STACK);
    expect(first.stdout).toContain("hello v11.0.0");
    // The server names 11.1.0 (login asks it again); the mirror drips the manifest's signature.
    await target("11.0.0", "11.1.0");
    await login();
    const r = await runAgainst(
      (p) => p.endsWith("/hello-releases.json.minisig"),
      { kind: "drip", everyMs: 1000 },
      ["tools", "exec", "hello", "version"],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello v11.0.0");
    expect(r.stderr).toContain("Client tools failed to update");
    expect(r.stderr).toContain("timed out after 10 s");
    expect(r.ms).toBeLessThan(45_000);
    expect(existsSync(join(env.UPKEEP_TOOLS_DIR as string, "11.1.0"))).toBe(false);
  });
  test("tools login without --trust-key and an endless published key: refused at 4 KiB, memory flat", async () => {
    const r = await runAgainst(
      (p) => p.endsWith("/hello.pub"),
      { kind: "endless" },
      ["tools", "login", "--server", bad.url, "--product", "hello", "--base-url", `${bad.url}/artifacts`],
      { ...env, UPKEEP_TOOLS_DIR: join(home(), "tools") },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("larger than 4 KiB");
    expect(r.peakRss).toBeLessThan(300 * MiB);
  });
});
