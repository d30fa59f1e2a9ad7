/**
 * kill -9 at every step of a self-update (issue 16): the `agent run` loop of a host on upkeep 11.50.0 is
 * killed with SIGKILL at each fault point of the self-update to 11.51.0 (UPKEEP_FAULT=self:<step> and the
 * download's updater-fetch:<step>), and at each step of the restore of a new updater that exits at start.
 * Then: the host's bin link runs a complete upkeep, and the next start (through the bin link, as a
 * supervisor would) ends on a committed updater with the daemon running.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { SELF_FAULT_POINTS } from "../core/sys/agent/self_update.ts";
import { UPDATER_FETCH_STEPS } from "../core/sys/self/fetch_updater.ts";
import {
  alive,
  daemonPid,
  type Host,
  hostOnBuild,
  runExe,
  type SelfMirror,
  stampedBuilds,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";

setDefaultTimeout(180_000);

const OLD = "11.50.0";
const NEW = "11.51.0";
const UPDATE_POINTS = [...SELF_FAULT_POINTS, ...UPDATER_FETCH_STEPS.map((s) => `updater-fetch:${s}`)].filter(
  (p) => !process.env.ONLY || p === process.env.ONLY,
);
const RESTORE_POINTS = ["self:after-restore-intent", "self:after-restore-switch"];

let w: World;
let mirror: SelfMirror;
let builds: string;

useWorld("agent-self-crash", async (world) => {
  w = world;
  ({ builds, mirror } = await stampedBuilds(w, OLD, NEW));
  mirror.updater.version = NEW;
});

const oldHost = (name: string): Promise<Host & { exe: string }> =>
  hostOnBuild(w, name, join(builds, OLD, "upkeep"), mirror.url);

const selfState = (h: Host) =>
  JSON.parse(readFileSync(join(h.installDir, "updater", "state.json"), "utf8")) as {
    active: string;
    skip: string[];
    updating?: unknown;
  };
const exeOf = (pid: number) => readlinkSync(`/proc/${pid}/exe`);

/**
 * Killed at `point`, then started again through the bin link: ends on `final`, committed. `broken`: the new
 * updater exits at start (every time).
 */
async function crashAndRecover(name: string, point: string, final: string, broken = false): Promise<string> {
  const h = await oldHost(name);
  const helloState = join(w.dir, name, "hello.json");
  const base = broken ? [`self:run-start@${NEW}`] : [];
  const killAt = { UPKEEP_FAULT: [...base, point].join(","), HELLO_STATE: helloState };
  const env = { UPKEEP_FAULT: base.join(","), HELLO_STATE: helloState };
  const first = await startLoop(h, [], killAt, h.exe);
  // The hand-over happens at the first pass (the server names NEW); a restore at the second start.
  let killed = await Promise.race([first.proc.exited.then(() => true), Bun.sleep(60_000).then(() => false)]);
  if (killed && first.proc.signalCode === "SIGKILL" && point.startsWith("self:after-restore")) {
    // The new updater exited at start (env's fault): the second start restores and is killed on the way.
    const again = await startLoop(h, [], killAt, h.exe);
    killed = await Promise.race([again.proc.exited.then(() => true), Bun.sleep(60_000).then(() => false)]);
    expect({ point, signal: again.proc.signalCode }).toEqual({ point, signal: "SIGKILL" });
  }
  expect({ point, killed, signal: first.proc.signalCode }).toEqual({
    point,
    killed: true,
    signal: "SIGKILL",
  });
  // Killed: the bin link still runs a complete upkeep.
  const v = (await runExe(h.exe, ["--version"])).stdout.trim();
  expect([`upkeep ${OLD}`, `upkeep ${NEW}`]).toContain(v);

  // The next start, through the bin link, without the fault point (the broken new updater still exits).
  const second = await startLoop(h, [], env, h.exe);
  await waitFor(
    `${point}: committed on ${final}`,
    () => {
      if (!existsSync(join(h.installDir, "updater", "state.json"))) return false;
      const s = selfState(h);
      return (
        s.active === final &&
        s.updating === undefined &&
        exeOf(second.pid).endsWith(`/versions/${final}/upkeep`)
      );
    },
    60_000,
  );
  expect((await runExe(h.exe, ["--version"])).stdout.trim()).toBe(`upkeep ${final}`);
  await waitFor(`${point}: the daemon`, () => alive(daemonPid(h)), 30_000);
  expect(await second.stop()).toBe(0);
  const log = readFileSync(h.log, "utf8");
  return log.match(/updater: (restored|the switch).*/g)?.join("; ") ?? "(nothing to recover)";
}

async function inBatches<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

describe("SIGKILL at every step of a self-update, then a start through the bin link", () => {
  test(`the update to a good updater: ${UPDATE_POINTS.length} points`, async () => {
    await inBatches(UPDATE_POINTS, 3, async (point) => {
      const notes = await crashAndRecover(point.replace(/[^a-z-]/g, "_"), point, NEW);
      console.log(`${point}: ${notes}`);
    });
  });

  test(`the restore of a new updater that exits at start: ${RESTORE_POINTS.length} points`, async () => {
    await inBatches(RESTORE_POINTS, 2, async (point) => {
      const notes = await crashAndRecover(`r-${point.replace(/[^a-z-]/g, "_")}`, point, OLD, true);
      console.log(`${point}: ${notes}`);
    });
  });
});
