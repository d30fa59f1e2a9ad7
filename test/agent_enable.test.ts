/**
 * `agent enable` on a namespace that exists (after `agent disable`): the stored settings are kept unless a
 * flag replaces them; a first enable still needs its required flags; the interval is stored and used by
 * `agent run`; no token is warned about.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import {
  AGENT_TOKEN,
  agent,
  enable,
  host,
  killDaemon,
  publish,
  readStateFile,
  STACK,
  setTarget,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;

useWorld("agent-enable", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.4.0:badversion"]);
  await setTarget(w, "11.0.0");
});

describe("agent enable on an existing namespace", () => {
  test("after disable, a bare `agent enable --install-dir D` re-enables with every stored setting", async () => {
    const h = host(w, "reenable");
    const first = await enable(w, h, ["--group", "canary", "--interval", "1m", "--health-cmd", "true"]);
    expect(first.code).toBe(0);
    // The supervise hint carries the stored interval.
    expect(first.stdout).toContain(
      `upkeep agent run --install-dir ${h.installDir} --namespace default --interval 1m`,
    );
    const before = readStateFile(h).spec;
    expect(before).toMatchObject({
      group: "canary",
      token: AGENT_TOKEN,
      interval: "1m",
      daemon_args: ["serve"],
    });
    expect((await agent(h, ["disable"])).code).toBe(0);

    const r = await upkeep(["agent", "enable", ...h.where]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("settings: the stored ones");
    const after = readStateFile(h).spec;
    expect(after).toEqual({ ...before, enabled: true });
    expect(readlinkSync(join(h.binDir, "hello"))).toBe(join(h.root, "current", "bin", "hello"));
    const s = JSON.parse((await agent(h, ["status", "--json"])).stdout) as Record<string, unknown>;
    expect(s.enabled).toBe(true);
    expect(s.group).toBe("canary");
    expect(String(s.last_result)).not.toContain("disabled");
    expect(String(s.last_result)).toContain("re-enabled");
  });

  test("flags given replace their stored value, and the output says which", async () => {
    const h = host(w, "change");
    expect((await enable(w, h, ["--group", "canary"])).code).toBe(0);
    const r = await upkeep([
      "agent",
      "enable",
      ...h.where,
      "--group",
      "prod",
      "--health-wait",
      "2s",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { changed: string[]; existing: boolean; group: string };
    expect(out.existing).toBe(true);
    expect(out.group).toBe("prod");
    expect(out.changed).toEqual(["group (canary -> prod)", "health-wait (1500ms -> 2000ms)"]);
    const spec = readStateFile(h).spec;
    expect(spec).toMatchObject({
      group: "prod",
      token: AGENT_TOKEN,
      health_wait_ms: 2000,
      bin_dir: h.binDir,
    });
  });

  test('stored settings can be cleared or moved: --no-insecure, --daemon-arg "", a new --bin-dir moves the links', async () => {
    const h = host(w, "clear");
    expect((await enable(w, h, ["--insecure"])).code).toBe(0);
    expect(readStateFile(h).spec).toMatchObject({ insecure: true, daemon_args: ["serve"] });
    const newBin = join(h.root, "..", "other-bin");
    const r = await upkeep([
      "agent",
      "enable",
      ...h.where,
      "--no-insecure",
      "--daemon-arg",
      "",
      "--bin-dir",
      newBin,
      "--json",
    ]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    const spec = readStateFile(h).spec;
    expect(spec).toMatchObject({ insecure: false, daemon_args: [], bin_dir: newBin });
    expect(readlinkSync(join(newBin, "hello"))).toBe(join(h.root, "current", "bin", "hello"));
    expect(existsSync(join(h.binDir, "hello"))).toBe(false);
    // An interval a timer cannot wait (over 24.8 days) is refused instead of making the loop spin.
    const long = await upkeep(["agent", "enable", ...h.where, "--interval", "30d"]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain("at most 24d");
    const run = await upkeep(["agent", "run", ...h.where, "--interval", "720h"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("at most 24d");
  });

  test("a first enable without its required flags: exit 2 naming them, nothing written", async () => {
    const h = host(w, "first");
    const r = await upkeep(["agent", "enable", ...h.where, "--product", "hello"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--server <url>, --base-url <url>, --trust-key <pubfile>");
    expect(r.stderr).toContain("E_USAGE");
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(h.root)).toBe(false);
  });

  test("agent run uses the stored interval when --interval is not given", async () => {
    const h = host(w, "interval");
    expect((await enable(w, h, ["--interval", "1m"])).code).toBe(0);
    const { UPKEEP } = await import("./cli.ts");
    const proc = Bun.spawn([UPKEEP, "agent", "run", ...h.where], {
      env: { ...process.env, HELLO_STATE: join(w.dir, h.name, "hello.json") },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    let log = "";
    const reader = (async () => {
      for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
    })();
    try {
      await waitFor("the loop's start line", () => log.includes("every "));
      expect(log).toContain("every 60s (update.yaml: interval 1m)");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
      await reader;
      killDaemon(h);
    }
  });
});

describe("a failed first install", () => {
  test("reports nothing to the server (no host listed, no updater_id per retry); the code is printed once", async () => {
    const agents = async () => {
      const r = await fetch(`${w.url}/v1/agents`, {
        headers: { authorization: `Bearer ${w.env.UPKEEP_TOKEN}` },
      });
      return ((await r.json()) as { agents: unknown[] }).agents.length;
    };
    const before = await agents();
    await setTarget(w, "11.4.0");
    try {
      const h = host(w, "firstfail");
      for (let i = 0; i < 2; i++) {
        const r = await enable(w, h);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("first install of 11.4.0 failed");
        expect(r.stderr).toContain("(E_SMOKE)");
        expect(r.stderr).not.toContain("(E_SMOKE) (E_SMOKE)");
        expect(existsSync(h.root)).toBe(false);
      }
      expect(await agents()).toBe(before);
    } finally {
      await setTarget(w, "11.0.0");
    }
  });
});

describe("agent enable without a token", () => {
  test("warns that the host will not report (invisible to rollouts)", async () => {
    const h = host(w, "notoken");
    const { enableArgs } = await import("./agent_helpers.ts");
    const args = enableArgs(w, h).filter((a, i, all) => a !== AGENT_TOKEN && all[i + 1] !== AGENT_TOKEN);
    const r = await upkeep(args, { env: { UPKEEP_AGENT_TOKEN: "" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: no agent token");
    expect(r.stderr).toContain("rollouts never see it");
    const s = JSON.parse((await agent(h, ["status", "--json"])).stdout) as Record<string, unknown>;
    expect(String(s.last_report_error)).toContain("no agent token");
  });
});

describe("report failures are kept in the status", () => {
  test("a wrong token: last_report_error says 401; the next report sent clears it", async () => {
    const h = host(w, "badtoken");
    expect((await enable(w, h, ["--token", "agent-wrong"])).code).toBe(0);
    const s = JSON.parse((await agent(h, ["status", "--json"])).stdout) as Record<string, unknown>;
    expect(String(s.last_report_error)).toContain("401");
    expect(s.last_error).toBeNull();
    const text = await agent(h, ["status"]);
    expect(text.stdout).toMatch(/last_report_error: .*401/);
    // Fixed: enable with the right token, then a pass reports and the error is gone.
    expect((await upkeep(["agent", "enable", ...h.where, "--token", AGENT_TOKEN])).code).toBe(0);
    expect((await agent(h, ["update", "--now"])).code).toBe(0);
    const after = JSON.parse((await agent(h, ["status", "--json"])).stdout) as Record<string, unknown>;
    expect(after.last_report_error).toBeNull();
  });
});
