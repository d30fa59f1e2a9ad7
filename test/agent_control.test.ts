/**
 * Issue 10, items 3 and 7, end to end on the compiled binary with a real `serve`:
 *
 * - 3: the server sends agent_update_jitter_seconds 86400 and a running `agent run` loop waits it out
 *   (holding the namespace lock). `agent update` says it waits instead of hanging, `agent update --now`
 *   cuts the wait short and updates at once, and a rolled-back group goes back without any jitter.
 *   The landed code hung in all three (each command is given a generous harness timeout here).
 * - 7: a loop started under umask 000: its control socket is out of reach of `nobody` (0700 folder, 0600
 *   socket), and the loop checks the caller's uid even when an administrator loosened those modes. The
 *   landed code made `<ns>/agent.sock` 0777 and obeyed anyone.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  adminOk,
  alive,
  daemonVersion,
  enable,
  enabledHost,
  type Host,
  host,
  type Loop,
  publish,
  readStateFile,
  STACK,
  setRollout,
  setTarget,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { collect, UPKEEP, upkeep } from "./cli.ts";

setDefaultTimeout(120_000);

const isRoot = process.getuid?.() === 0;
const runuser = Bun.which("runuser");

let w: World;
let h: Host;
let loop: Loop | undefined;
let helloState: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/**
 * Runs `dist/upkeep agent SUB --install-dir ... ARGS` (as `user` through runuser when given) and gives it
 * `timeoutMs` at most: a command still running then is killed by its PID and reported as timed out.
 */
async function agentCmd(args: string[], o: { user?: string; timeoutMs?: number } = {}): Promise<Run> {
  const [sub, ...rest] = args;
  const cmd = [UPKEEP, "agent", sub as string, ...h.where, ...rest];
  const started = Date.now();
  const proc = Bun.spawn(o.user ? [runuser as string, "-u", o.user, "--", ...cmd] : cmd, {
    cwd: "/",
    env: { ...process.env, HOME: o.user ? "/nonexistent" : (process.env.HOME ?? "/root") },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const r = await collect(proc, { ms: o.timeoutMs ?? 30_000, signal: "SIGKILL" });
  return { ...r, code: r.timedOut ? null : proc.exitCode, ms: Date.now() - started };
}

const admin = (args: string[]) => adminOk(w, args);

// A jitter of a day: the most the agent accepts.
useWorld(
  "agent-ctl",
  async (world) => {
    w = world;
    await publish(w, ["11.0.0", "11.1.0"]);
    // One group, rolled out by the operator (force), so that it can also be rolled back.
    await setRollout(w, { g1: "wait_hours: 0" }, "11.0.0", "11.1.0");
    h = host(w, "a");
    helloState = join(w.dir, "a", "hello.json");
    // `nobody` must be able to reach the namespace folder (0755, as enable makes it): the folders of the
    // test above it are opened up too, so that only the agent's own protection stands in the way.
    for (const d of [w.dir, join(w.dir, "a")]) chmodSync(d, 0o755);
    const r = await enable(w, h, ["--group", "g1"]);
    if (r.code !== 0) throw new Error(r.stderr);
  },
  { config: { agent_update_jitter_seconds: 86400 } },
);

describe("agent run waiting out a day of jitter (item 3)", () => {
  test("the loop's pass enters the jitter wait", async () => {
    expect(readStateFile(h).status.active).toBe("11.0.0");
    await admin(["rollout", "force", "g1"]);
    // Started under umask 000 (item 7 looks at its socket below).
    const old = process.umask(0);
    try {
      loop = await startLoop(h, [], { HELLO_STATE: helloState });
    } finally {
      process.umask(old);
    }
    await waitFor("the jitter wait", () => /waiting \d+s of jitter/.test(loop?.log() ?? ""), 30_000);
    expect(alive(loop?.pid ?? 0)).toBe(true);
    await waitFor("the daemon", () => daemonVersion(helloState) === "11.0.0");
  });

  test("`agent update` answers at once that the loop waits, and until when", async () => {
    const r = await agentCmd(["update", "--json"]);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { outcome: string; to: string; message: string };
    expect(out).toMatchObject({ outcome: "waiting", from: "11.0.0", to: "11.1.0" });
    expect(out.message).toMatch(
      /^waiting \d+s more of jitter \(until \d{4}-.*Z\) before updating 11\.0\.0 to 11\.1\.0; `upkeep agent update --now` updates at once$/,
    );
    // `agent status` says so too.
    const s = await agentCmd(["status", "--json"]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).last_result).toMatch(
      /^waiting \d+s more of jitter \(until .*\) before updating/,
    );
  });

  test("no lock is held while the loop waits: pin (through the loop) and unpin (one-shot) answer at once", async () => {
    for (const args of [["pin"], ["unpin"]]) {
      const r = await agentCmd(args);
      expect(r.timedOut).toBe(false);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.code).toBe(0);
    }
    expect(readStateFile(h).spec.pinned).toBe(false);
    // Still waiting: the wait outlives the commands.
    expect(loop?.log()).not.toContain("cut short");
  });

  test("`agent update --now` cuts the wait short and updates at once", async () => {
    const r = await agentCmd(["update", "--now", "--json"], { timeoutMs: 60_000 });
    expect(r.timedOut).toBe(false);
    expect(r.stderr).not.toMatch(STACK);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "updated", from: "11.0.0", to: "11.1.0" });
    expect(r.code).toBe(0);
    expect(readStateFile(h).status.active).toBe("11.1.0");
    expect(daemonVersion(helloState)).toBe("11.1.0");
    expect(loop?.log()).toContain(
      "the jitter wait before updating to 11.1.0 was cut short by `agent update --now`",
    );
  });

  test("a rolled-back group goes back without waiting for the jitter", async () => {
    await admin(["rollout", "rollback", "g1"]);
    // Without --now: the rollback itself never waits.
    const r = await agentCmd(["update", "--json"], { timeoutMs: 60_000 });
    expect(r.timedOut).toBe(false);
    expect(r.stderr).not.toMatch(STACK);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "updated", from: "11.1.0", to: "11.0.0" });
    expect(loop?.log()).toContain("update: the server says roll back to 11.0.0 (the group was rolled back)");
    expect(daemonVersion(helloState)).toBe("11.0.0");
  });
});

describe("the control socket of a loop started under umask 000 (item 7)", () => {
  const ctl = () => join(h.root, "control");
  const sock = () => join(ctl(), "agent.sock");

  test("its folder is 0700 and the socket 0600, owned by the agent's user; the namespace stays 0755", () => {
    const uid = process.getuid?.() ?? 0;
    const d = lstatSync(ctl());
    expect(d.isDirectory()).toBe(true);
    expect(d.mode & 0o777).toBe(0o700);
    expect(d.uid).toBe(uid);
    const s = lstatSync(sock());
    expect(s.isSocket()).toBe(true);
    expect(s.mode & 0o777).toBe(0o600);
    expect(s.uid).toBe(uid);
    expect(statSync(h.root).mode & 0o777).toBe(0o755);
  });

  test.skipIf(!isRoot || !runuser)("`nobody` cannot stop, pin or roll back the loop", async () => {
    const pid = loop?.pid ?? 0;
    // `uninstall --force` first: it asks the loop to stop (the landed loop obeyed at once).
    for (const args of [["uninstall", "--force"], ["pin", "11.1.0"], ["rollback"], ["update", "--now"]]) {
      const r = await agentCmd(args, { user: "nobody", timeoutMs: 20_000 });
      await Bun.sleep(200);
      // Nothing obeyed: the loop runs on, nothing pinned or rolled back.
      expect(loop?.log()).not.toContain("stopping (stop requested)");
      expect(alive(pid)).toBe(true);
      expect(readStateFile(h).spec.pinned).toBe(false);
      expect(readStateFile(h).status.active).toBe("11.0.0");
      // And the refusal says why, at once.
      expect(r.timedOut).toBe(false);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot reach the agent run loop at ${sock()}: permission denied`);
      expect(r.stderr).toContain("E_UNAUTHORIZED");
    }
  });

  test.skipIf(!isRoot || !runuser)(
    "modes loosened by hand: the loop still refuses another uid (SO_PEERCRED)",
    async () => {
      chmodSync(ctl(), 0o755);
      chmodSync(sock(), 0o666);
      try {
        const r = await agentCmd(["pin"], { user: "nobody" });
        expect(r.timedOut).toBe(false);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
          "uid 65534 may not control the agent run loop of uid 0: only its user and root may",
        );
        expect(r.stderr).toContain("E_UNAUTHORIZED");
        expect(readStateFile(h).spec.pinned).toBe(false);
      } finally {
        chmodSync(ctl(), 0o700);
        chmodSync(sock(), 0o600);
      }
    },
  );

  test("the agent's user still controls the loop", async () => {
    const r = await agentCmd(["pin", "--json"]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(readStateFile(h).spec.pinned).toBe(true);
    const u = await agentCmd(["unpin"]);
    expect(u.code).toBe(0);
    expect(readStateFile(h).spec.pinned).toBe(false);
  });
});

describe("a short jitter (3 s) ends in an update of its own", () => {
  let w2: World;
  let h2: Host;
  let state2: string;

  useWorld(
    "agent-jitter",
    async (world) => {
      w2 = world;
      await publish(w2, ["11.0.0", "11.1.0"]);
      await setTarget(w2, "11.0.0");
      h2 = await enabledHost(w2, "b");
      state2 = join(w2.dir, "b", "hello.json");
    },
    { config: { agent_update_jitter_seconds: 3 } },
  );

  test("`agent update` says the loop waits; the loop updates when the wait is over", async () => {
    const loop2 = await startLoop(h2, [], { HELLO_STATE: state2 });
    await waitFor("the daemon", () => daemonVersion(state2) === "11.0.0");
    await setTarget(w2, "11.1.0");
    const r = await upkeep(["agent", "update", ...h2.where, "--json"]);
    expect(r.stderr).not.toMatch(STACK);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "waiting", from: "11.0.0", to: "11.1.0" });
    await waitFor("the update after the jitter", () => readStateFile(h2).status.active === "11.1.0", 40_000);
    expect(daemonVersion(state2)).toBe("11.1.0");
    expect(loop2.log()).toContain("the jitter before updating to 11.1.0 is over: a pass now");
  });
});
