/**
 * Crash safety (DESIGN §6): the `agent run` loop is killed with SIGKILL at every named step of an update
 * (UPKEEP_FAULT=agent:<step>, core/sys/fault.ts), leaving its daemon orphaned. Then, and after a restart of
 * the loop: `current` points at a complete version folder, update.yaml agrees, no temp folder is taken for a
 * version, the orphaned daemon is stopped, and the update completes (or the rollback does).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_FAULT_POINTS } from "../core/sys/agent/updater.ts";
import {
  agent,
  alive,
  currentDir,
  daemonPid,
  daemonVersion,
  enabledHost,
  type Host,
  isComplete,
  publish,
  readStateFile,
  setTarget,
  startLoop,
  useWorld,
  versionDirs,
  type World,
  waitFor,
} from "./agent_helpers.ts";

setDefaultTimeout(120_000);

const ROLLBACK_POINTS = new Set([
  "agent:before-revert",
  "agent:after-revert",
  "agent:after-rollback-restart",
  "agent:after-rollback-commit",
]);
const UPDATE_POINTS = AGENT_FAULT_POINTS.filter(
  (p) => !ROLLBACK_POINTS.has(p) && (!process.env.ONLY || p === process.env.ONLY),
);

let w: World;
const byPoint = new Map<string, Host>();

useWorld("agent-crash", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0", "11.2.0:crash"]);
  await setTarget(w, "11.0.0");
  // Every host starts on 11.0.0 (enable installs what the server names).
  await inBatches(AGENT_FAULT_POINTS, 4, async (point) => {
    byPoint.set(point, await enabledHost(w, point.replace(/[^a-z-]/g, "_")));
  });
});

/** Every folder under versions/ that does not start with "." is a complete version. */
function noHalfVersions(h: Host): void {
  for (const name of readdirSync(join(h.root, "versions"))) {
    if (name.startsWith(".")) continue;
    expect({ name, complete: isComplete(h, name) }).toEqual({ name, complete: true });
  }
}

function checkTruth(h: Host): void {
  const cur = currentDir(h);
  expect(cur).toBeDefined();
  expect(isComplete(h, cur as string)).toBe(true);
  noHalfVersions(h);
}

async function crashAndRecover(point: string, final: string, skip: string[]): Promise<string> {
  const h = byPoint.get(point) as Host;
  const helloState = join(w.dir, h.name, "hello.json");

  // Run 1: the loop's first pass updates and is killed at the fault point.
  const first = await startLoop(h, [], { UPKEEP_FAULT: point, HELLO_STATE: helloState });
  await Promise.race([first.proc.exited, Bun.sleep(30_000)]);
  expect({ point, signal: first.proc.signalCode }).toEqual({ point, signal: "SIGKILL" });
  const orphan = daemonPid(h);

  // Killed: still a complete version behind current, no half-made version; any command that reads the
  // state (here `status`) first makes update.yaml tell the truth about current.
  checkTruth(h);
  const after = JSON.parse((await agent(h, ["status", "--json"])).stdout) as { active: string };
  expect({ point, active: after.active }).toEqual({
    point,
    active: (currentDir(h) as string).split("_")[0] as string,
  });
  expect(readStateFile(h).status.active).toBe(after.active);

  // Run 2: recovery, then the pass completes.
  const second = await startLoop(h, [], { HELLO_STATE: helloState });
  await waitFor(
    `${point}: update.yaml settles on ${final}`,
    () => {
      const s = readStateFile(h).status;
      return s.active === final && s.updating === undefined && daemonVersion(helloState) === final;
    },
    30_000,
  );
  // The pass after recovery has finished when the loop logs it.
  await waitFor(`${point}: the pass`, () => /pass: (updated|unchanged)/.test(second.log()), 30_000);
  checkTruth(h);
  expect(currentDir(h)).toBe(final);
  const st = readStateFile(h).status;
  expect(st.skip).toEqual(skip);
  // A skipped release's folder is removed once the rollback is recorded (also by recovery).
  for (const v of skip)
    expect({ point, dirs: versionDirs(h) }).toEqual({ point, dirs: versionDirs(h).filter((d) => d !== v) });
  expect(alive(daemonPid(h))).toBe(true);
  if (orphan && orphan !== daemonPid(h)) expect(alive(orphan)).toBe(false);
  const status = await agent(h, ["status", "--json"]);
  expect(JSON.parse(status.stdout)).toMatchObject({ active: final, updating: null });
  const exit = await second.stop();
  expect(exit).toBe(0);
  expect(alive(daemonPid(h))).toBe(false);
  const log = readFileSync(h.log, "utf8");
  return log.match(/recovery: .*/g)?.join("; ") ?? "(nothing to recover)";
}

/** Runs `fn` over `items`, `n` at a time. */
async function inBatches<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

describe("SIGKILL at every agent fault point, then restart", () => {
  test(`an update to a good release: ${UPDATE_POINTS.length} points`, async () => {
    await setTarget(w, "11.1.0");
    await inBatches(UPDATE_POINTS, 5, async (point) => {
      const notes = await crashAndRecover(point, "11.1.0", []);
      console.log(`${point}: ${notes}`);
    });
  });

  test(`a rollback of a crashing release: ${ROLLBACK_POINTS.size} points`, async () => {
    await setTarget(w, "11.2.0", "11.0.0");
    await inBatches([...ROLLBACK_POINTS], 4, async (point) => {
      const notes = await crashAndRecover(point, "11.0.0", ["11.2.0"]);
      console.log(`${point}: ${notes}`);
    });
  });
});
