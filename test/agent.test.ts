/**
 * `upkeep agent` end to end: the compiled binary, a real `upkeep serve` on loopback, signed fake releases
 * (scripts/fake-release.ts), the supervise backend running the fake daemon `hello`. One host walks through
 * first install, updates, a crashing and an unhealthy release (rolled back, skipped, rollback time
 * measured), a smoke-test failure, pin/unpin, operator rollback, disable, the server going away, uninstall.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acquireLock } from "../core/sys/lock.ts";
import {
  agent,
  alive,
  currentDir,
  daemonPid,
  daemonVersion,
  enable,
  type Host,
  host,
  isComplete,
  killDaemon,
  type Loop,
  publish,
  readStateFile,
  STACK,
  setTarget,
  startLoop,
  useWorld,
  versionDirs,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { UPKEEP } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;
let h: Host;
let loop: Loop | undefined;
let helloState: string;
const env = () => ({ HELLO_STATE: helloState });

interface PassJson {
  outcome: string;
  from: string;
  to: string;
  message: string;
  code?: string;
  detect_ms?: number;
  rollback_ms?: number;
}

async function update(extra: string[] = []): Promise<{ code: number; r: PassJson; stderr: string }> {
  const out = await agent(h, ["update", "--now", "--json", ...extra]);
  return { code: out.code, r: JSON.parse(out.stdout || "{}") as PassJson, stderr: out.stderr };
}

async function status(): Promise<Record<string, unknown>> {
  const r = await agent(h, ["status", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function agentsOnServer(): Promise<
  { updater_id: string; version: string; state: string; failed_version?: string }[]
> {
  const r = await fetch(`${w.url}/v1/agents`, { headers: { authorization: `Bearer ${w.env.UPKEEP_TOKEN}` } });
  return ((await r.json()) as { agents: { updater_id: string; version: string; state: string }[] }).agents;
}

useWorld("agent", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0", "11.2.0:crash", "11.3.0:unhealthy", "11.4.0:badversion", "11.5.0"]);
  await setTarget(w, "11.0.0");
  h = host(w, "a");
  helloState = join(w.dir, "a", "hello.json");
});

describe("upkeep agent (supervise backend, real serve)", () => {
  test("enable: first install of the version the server names; update.yaml 0600; links through current", async () => {
    const r = await enable(w, h, ["--group", "canary", "--health-cmd", `${h.binDir}/hello health`, "--json"]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      enabled: true,
      pinned: false,
      active: "11.0.0",
      backup: null,
      group: "canary",
    });
    expect(statSync(h.stateFile).mode & 0o777).toBe(0o600);
    expect(currentDir(h)).toBe("11.0.0");
    expect(readlinkSync(join(h.root, "current"))).toBe(join("versions", "11.0.0"));
    expect(isComplete(h, "11.0.0")).toBe(true);
    expect(readlinkSync(join(h.binDir, "hello"))).toBe(join(h.root, "current", "bin", "hello"));
    const st = readStateFile(h);
    expect(st.spec.updater_id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(st.spec).toMatchObject({ server: w.url, product: "hello", service: "supervise", daemon: "hello" });
  });

  test("status --json has the issue's fields", async () => {
    const s = await status();
    for (const k of [
      "enabled",
      "pinned",
      "active",
      "backup",
      "skip",
      "group",
      "server",
      "updater_id",
      "last_check",
      "last_result",
      "last_error",
    ])
      expect(s).toHaveProperty(k);
    expect(s).toMatchObject({ enabled: true, pinned: false, active: "11.0.0", skip: [], server: w.url });
    const text = await agent(h, ["status"]);
    expect(text.stdout).toContain("active:      11.0.0");
  });

  test("run: the loop starts the daemon as its child on the active version", async () => {
    loop = await startLoop(h, [], env());
    await waitFor("the daemon", () => daemonVersion(helloState) === "11.0.0");
    expect(alive(daemonPid(h))).toBe(true);
    // A second loop for the same namespace is refused with a clear message.
    const second = await agent(h, ["run", "--interval", "1h"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("an agent run loop already runs for");
    expect(second.stderr).toContain("E_LOCKED");
  });

  test("update: asks the loop; new version installed, switched, restarted, healthy; reported ok", async () => {
    await setTarget(w, "11.1.0");
    const before = daemonPid(h);
    const { code, r } = await update();
    expect(r).toMatchObject({ outcome: "updated", from: "11.0.0", to: "11.1.0" });
    expect(code).toBe(0);
    expect(loop?.log()).toContain("update: the server says update to 11.1.0");
    expect(daemonVersion(helloState)).toBe("11.1.0");
    expect(daemonPid(h)).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(await status()).toMatchObject({ active: "11.1.0", backup: "11.0.0", updating: null });
    const me = (await agentsOnServer()).find((a) => a.updater_id === readStateFile(h).spec.updater_id);
    expect(me).toMatchObject({ version: "11.1.0", state: "ok" });
  });

  test("a crashing release is rolled back, skipped and reported; rollback time measured", async () => {
    await setTarget(w, "11.2.0");
    const t0 = performance.now();
    const { code, r } = await update();
    const wall = performance.now() - t0;
    expect(code).toBe(1);
    expect(r).toMatchObject({ outcome: "rolledback", from: "11.1.0", to: "11.2.0", code: "E_UNHEALTHY" });
    expect(r.message).toContain("restarted once");
    expect(daemonVersion(helloState)).toBe("11.1.0");
    expect(alive(daemonPid(h))).toBe(true);
    expect(currentDir(h)).toBe("11.1.0");
    const s = await status();
    expect(s).toMatchObject({ active: "11.1.0", skip: ["11.2.0"] });
    // The skipped release's folder is gone at once (not kept until the next successful update).
    expect(versionDirs(h)).toEqual(["11.0.0", "11.1.0"]);
    console.log(
      `rollback (crashing release): detected ${r.detect_ms} ms after the switch (the daemon crashes 1 s after start), old version running again ${r.rollback_ms} ms after detection; whole pass ${Math.round(wall)} ms`,
    );
    expect(r.rollback_ms).toBeLessThan(2000);
    const me = (await agentsOnServer()).find((a) => a.updater_id === readStateFile(h).spec.updater_id);
    expect(me).toMatchObject({ version: "11.1.0", state: "rolledback", failed_version: "11.2.0" });
    // The next pass does not try it again.
    const again = await update();
    expect(again.r.outcome).toBe("unchanged");
    expect(again.r.message).toContain("skipped");
  });

  test("an unhealthy release (readiness probe fails) is rolled back", async () => {
    await setTarget(w, "11.3.0");
    const { code, r } = await update();
    expect(code).toBe(1);
    expect(r).toMatchObject({ outcome: "rolledback", to: "11.3.0" });
    expect(r.message).toContain("readiness probe failed");
    console.log(
      `rollback (unhealthy release): detected ${r.detect_ms} ms, restored ${r.rollback_ms} ms after detection`,
    );
    expect(daemonVersion(helloState)).toBe("11.1.0");
    expect((await status()).skip).toEqual(["11.2.0", "11.3.0"]);
    expect(versionDirs(h)).toEqual(["11.0.0", "11.1.0"]);
  });

  test("a release whose smoke test fails is refused before the switch; the daemon is not touched", async () => {
    await setTarget(w, "11.4.0");
    const pid = daemonPid(h);
    const { code, r } = await update();
    expect(code).toBe(1);
    expect(r).toMatchObject({ outcome: "failed", to: "11.4.0", code: "E_SMOKE" });
    expect(r.message).toContain("smoke test");
    expect(daemonPid(h)).toBe(pid);
    expect(currentDir(h)).toBe("11.1.0");
    expect((await status()).skip).toContain("11.4.0");
    expect(versionDirs(h)).toEqual(["11.0.0", "11.1.0"]);
  });

  test("pin stops updates; pin VERSION installs and pins; unpin follows the server again", async () => {
    await setTarget(w, "11.5.0");
    expect((await agent(h, ["pin"])).code).toBe(0);
    expect(await status()).toMatchObject({ pinned: true, active: "11.1.0" });
    const pinned = await update();
    expect(pinned.r.outcome).toBe("unchanged");
    expect(pinned.r.message).toContain("pinned");
    const pin = await agent(h, ["pin", "11.0.0", "--json"]);
    expect(pin.code).toBe(0);
    expect(JSON.parse(pin.stdout)).toMatchObject({ outcome: "updated", to: "11.0.0" });
    expect(daemonVersion(helloState)).toBe("11.0.0");
    expect(await status()).toMatchObject({ pinned: true, active: "11.0.0", backup: "11.1.0" });
    // A version that is not released: refused; --json answers on stdout too; the code is printed once.
    const bad = await agent(h, ["pin", "9.9.9", "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: "E_NOT_IN_MANIFEST" });
    expect(JSON.parse(bad.stdout).reason).toContain("cannot pin 9.9.9");
    expect(JSON.parse(bad.stdout).reason).not.toContain("(E_NOT_IN_MANIFEST)");
    expect(bad.stderr).toContain("(E_NOT_IN_MANIFEST)");
    expect(bad.stderr).not.toContain("(E_NOT_IN_MANIFEST) (E_NOT_IN_MANIFEST)");
    expect((await agent(h, ["unpin"])).code).toBe(0);
    const r = await update();
    expect(r.r).toMatchObject({ outcome: "updated", from: "11.0.0", to: "11.5.0" });
    expect(daemonVersion(helloState)).toBe("11.5.0");
    // Old versions are cleaned: active and backup are kept.
    expect(versionDirs(h)).toEqual(["11.0.0", "11.5.0"]);
  });

  test("rollback: back to the backup version without the network, the version left is skipped", async () => {
    const r = await agent(h, ["rollback", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "updated", from: "11.5.0", to: "11.0.0" });
    expect(daemonVersion(helloState)).toBe("11.0.0");
    const s = await status();
    expect(s).toMatchObject({ active: "11.0.0", backup: "11.5.0" });
    expect(s.skip).toContain("11.5.0");
    const next = await update();
    expect(next.r.outcome).toBe("unchanged");
    expect(next.r.message).toContain("skipped on this host by the operator");
    // The operator's skip is no failure of 11.5.0: reported ok, without failed_version (which the server
    // counts against the rollout).
    const me = (await agentsOnServer()).find((a) => a.updater_id === readStateFile(h).spec.updater_id);
    expect(me).toMatchObject({ version: "11.0.0", state: "ok" });
    expect(me?.failed_version).toBeUndefined();
  });

  test("disable: no more updates, the daemon keeps running", async () => {
    await setTarget(w, "11.1.0");
    const pid = daemonPid(h);
    expect((await agent(h, ["disable"])).code).toBe(0);
    const r = await update();
    expect(r.r.outcome).toBe("unchanged");
    expect(r.r.message).toContain("disabled");
    expect(daemonPid(h)).toBe(pid);
    expect(await status()).toMatchObject({ enabled: false, active: "11.0.0" });
  });

  test("one agent run loop per namespace, also when two start at once (the run lock)", async () => {
    // A loop that holds the run lock but has no control socket yet (it is starting): refused at once.
    const x = await whileLocked("runlock", "agent.run.lock", "agent run", async (x) => {
      const r = await agent(x, ["run", "--interval", "1h"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("another `upkeep agent run` loop");
      expect(r.stderr).toContain("E_LOCKED");
      expect(daemonPid(x)).toBe(0);
    });
    // Two loops started together (neither answers the other's ping yet): exactly one runs.
    const spawn = () =>
      Bun.spawn([UPKEEP, "agent", "run", ...x.where, "--interval", "1h"], {
        env: { ...process.env, ...env() },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
    const [a, b] = [spawn(), spawn()];
    try {
      const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
      const other = first === a ? b : a;
      expect(first.exitCode).toBe(1);
      expect(await new Response(first.stderr).text()).toContain("E_LOCKED");
      await Bun.sleep(500);
      expect(other.exitCode).toBeNull();
    } finally {
      for (const p of [a, b]) if (p.exitCode === null) p.kill("SIGTERM");
      await Promise.all([a.exited, b.exited]);
      killDaemon(x);
    }
  });

  test("uninstall takes the namespace lock: refused while another updater holds it, nothing removed", async () => {
    const x = await whileLocked("unlock", "update.lock", "test holder", async (x) => {
      const r = await agent(x, ["uninstall", "--lock-wait", "300ms"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("E_LOCKED");
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(existsSync(x.stateFile)).toBe(true);
      expect(readlinkSync(join(x.binDir, "hello"))).toBe(join(x.root, "current", "bin", "hello"));
    });
    const un = await agent(x, ["uninstall", "--json"]);
    expect(un.code).toBe(0);
    // Paths only (no "removed ..." sentences).
    expect(JSON.parse(un.stdout)).toEqual({ removed: [join(x.binDir, "hello"), x.root], stopped_pid: null });
    expect(existsSync(x.root)).toBe(false);
  });

  test("a lock held by another updater: a one-shot pass waits, then says who holds it; a dead holder's lock is taken over", async () => {
    const x = await whileLocked("lock", "update.lock", "test holder", async (x) => {
      const r = await upkeepDirect(
        ["agent", "update", "--install-dir", x.installDir, "--lock-wait", "300ms"],
        true,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(r.stderr).toContain("E_LOCKED");
      // status answers at once (no wait for the lock, no recovery) and shows the update in flight.
      const saved = readFileSync(x.stateFile, "utf8");
      writeFileSync(
        x.stateFile,
        saved.replace(
          /^ {2}manifest_serial:/m,
          "  updating:\n    from: 11.0.0\n    to: 11.1.0\n    started: 2024-01-01T00:00:00.000Z\n  manifest_serial:",
        ),
        { mode: 0o600 },
      );
      const st = await agent(x, ["status", "--json"]);
      expect(st.code).toBe(0);
      expect(st.stderr).not.toContain("waiting"); // a wait would say so (and take the whole --lock-wait)
      expect(JSON.parse(st.stdout).updating).toEqual({ from: "11.0.0", to: "11.1.0" });
      expect((await agent(x, ["status"])).stdout).toContain("updating:    11.0.0 -> 11.1.0");
      writeFileSync(x.stateFile, saved, { mode: 0o600 });
    });
    // A lock file left by a process that died (its pid is gone) does not block.
    writeFileSync(join(x.root, "update.lock"), "pid 999999\nagent update since 2020-01-01T00:00:00.000Z\n");
    const r = await agent(x, ["update", "--now", "--lock-wait", "1s", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe("unchanged");
  });

  test("the server goes away: the pass fails, nothing is rolled back, the daemon keeps running, status says why", async () => {
    await w.stop();
    const pid = daemonPid(h);
    const r = await update();
    expect(r.code).toBe(1);
    expect(r.r.outcome).toBe("error");
    expect(r.r.message).toContain("cannot reach");
    expect(daemonPid(h)).toBe(pid);
    expect(alive(pid)).toBe(true);
    const s = await status();
    expect(s.last_error).toContain("cannot reach");
    expect(s.active).toBe("11.0.0");
    expect(currentDir(h)).toBe("11.0.0");
  });

  test("uninstall: refused while the loop runs; --force stops loop and daemon, removes links and files", async () => {
    const pid = daemonPid(h);
    const refused = await agent(h, ["uninstall"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--force");
    const r = await agent(h, ["uninstall", "--force"]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(await loop?.proc.exited).toBe(0);
    loop = undefined;
    expect(alive(pid)).toBe(false);
    expect(existsSync(h.root)).toBe(false);
    expect(() => lstatSync(join(h.binDir, "hello"))).toThrow();
  });
});

/** Enables a new host `name` and runs `fn` on it while this test holds the host's lock file `lock`. */
async function whileLocked(
  name: string,
  lock: string,
  what: string,
  fn: (x: Host) => Promise<void>,
): Promise<Host> {
  const x = host(w, name);
  expect((await enable(w, x)).code).toBe(0);
  const held = await acquireLock(join(x.root, lock), { waitMs: 0, what });
  try {
    await fn(x);
  } finally {
    held.release();
  }
  return x;
}

async function upkeepDirect(args: string[], _quiet: boolean) {
  const { upkeep } = await import("./cli.ts");
  return upkeep(args);
}

describe("upkeep agent: refusals without a working setup", () => {
  test("enable against a server that is down writes nothing", async () => {
    const x = host(w, "down");
    const r = await enable(w, x);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot reach");
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(x.stateFile)).toBe(false);
    expect(existsSync(x.root)).toBe(false);
  });

  test("commands on a namespace that was never enabled say how to enable", async () => {
    const x = host(w, "never");
    const r = await agent(x, ["status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no agent is enabled");
    expect(r.stderr).toContain("upkeep agent enable");
  });

  test("a malformed update.yaml names the field", async () => {
    const x = host(w, "bad");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(x.root, { recursive: true });
    writeFileSync(x.stateFile, "version: 1\nkind: upkeep_agent\nspec:\n  server: nope\n", { mode: 0o600 });
    const r = await agent(x, ["status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("spec.server");
    expect(r.stderr).toContain("E_MALFORMED");
  });

  test("bad flags: exit 2", async () => {
    const x = host(w, "flags");
    const both = await enable(w, x, ["--health-url", "http://127.0.0.1:1/", "--health-cmd", "true"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("exclude each other");
    const plain = await upkeepDirect(
      [
        "agent",
        "enable",
        "--server",
        "http://192.0.2.1:1",
        "--product",
        "hello",
        "--base-url",
        "http://192.0.2.1:1/a",
        "--trust-key",
        w.pub,
        "--install-dir",
        x.installDir,
      ],
      true,
    );
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain("--server");
    const pin = await agent(x, ["pin", "not-a-version"]);
    expect(pin.code).toBe(2);
  });
});
