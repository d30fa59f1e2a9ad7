/**
 * `agent update` while `agent run` is starting: the loop holds its run lock and has started its daemon, but its
 * control socket does not listen yet. The command must wait for the loop and let it do the pass (its daemon is
 * restarted on the new version), not do a one-shot pass beside it (which switched `current` under the loop's
 * daemon and left the old version running). `UPKEEP_FAULT_PAUSE` holds that window open for 3 s.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  agent,
  alive,
  currentDir,
  daemonPid,
  daemonVersion,
  enabledHost,
  type Host,
  type Loop,
  publish,
  setTarget,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";

setDefaultTimeout(60_000);

let w: World;
let h: Host;
let loop: Loop | undefined;

useWorld("loopstart", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  await setTarget(w, "11.0.0");
  h = await enabledHost(w, "h");
});

test("agent update --now while the loop starts: the loop does the pass and its daemon runs the new version", async () => {
  await setTarget(w, "11.1.0");
  const helloState = join(w.dir, "hello.json");
  const starting = startLoop(h, [], {
    HELLO_STATE: helloState,
    UPKEEP_FAULT_PAUSE: "agent:loop-before-listen=3000",
  });
  // The loop's daemon runs 11.0.0; its socket is not there yet.
  await waitFor("the loop's daemon", () => alive(daemonPid(h)) && daemonVersion(helloState) === "11.0.0");
  const u = await agent(h, ["update", "--now"]);
  loop = await starting;
  expect(u.stderr).not.toContain("internal error");
  expect(u.code).toBe(0);
  // The loop's own first pass may have made the update before it read this request: either is right.
  expect(u.stdout).toMatch(/^(updated: |unchanged: up to date on 11\.1\.0)/);
  expect(currentDir(h)).toBe("11.1.0");
  // The daemon that runs is the new version, restarted by the loop that owns it.
  await waitFor("the daemon on 11.1.0", () => daemonVersion(helloState) === "11.1.0", 10_000);
  expect(alive(daemonPid(h))).toBe(true);
  expect(loop.log()).toContain("pass: updated");
});
