/**
 * The text views after a host-side rollback (issue 11, trap 6), with a real agent: one host updates to the
 * target under `schedule: immediate`, then its operator runs `upkeep agent rollback`. `admin get rollout`
 * then shows counts and a reason that agree (the old view kept "all 1 reporting agents run 11.1.0" beside
 * UPDATED 0), the full reason wrapped (never cut), and the last events; `admin get agents` shows the whole
 * state and the agent's whole error, wrapped.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  agent,
  daemonVersion,
  enable,
  type Host,
  host,
  type Loop,
  publish,
  setTarget,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;
let h: Host;
let _loop: Loop | undefined;
const WIDTH = 100;

const admin = (args: string[], width = WIDTH) =>
  upkeep(["admin", ...args], { env: { ...w.env, COLUMNS: String(width) } });

/** A wrapped cell read back: its lines joined with single spaces. */
const unwrap = (text: string) => text.replace(/\s*\n\s*/g, " ").replace(/ {2,}/g, " ");

/** This host's last report, as the server has it. */
async function onServer(): Promise<{ version: string; state: string; error?: string } | undefined> {
  const r = await fetch(`${w.url}/v1/agents`, { headers: { authorization: `Bearer ${w.env.UPKEEP_TOKEN}` } });
  return ((await r.json()) as { agents: { version: string; state: string; error?: string }[] }).agents[0];
}

useWorld("adminview", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  await setTarget(w, "11.0.0");
  h = host(w, "a");
  const env = { HELLO_STATE: join(w.dir, "a", "hello.json") };
  expect((await enable(w, h, [], env)).code).toBe(0);
  _loop = await startLoop(h, [], env);
  await waitFor("the daemon on 11.0.0", () => daemonVersion(env.HELLO_STATE) === "11.0.0");
  // The host updates to the target at once (immediate) and the group is done...
  await setTarget(w, "11.1.0", "11.0.0", "immediate");
  expect((await agent(h, ["update", "--now"])).code).toBe(0);
  await waitFor("11.1.0 reported ok", async () => (await onServer())?.version === "11.1.0");
  expect(await onServer()).toMatchObject({ version: "11.1.0", state: "ok" });
  // ...then the host's operator goes back; the next pass reports 11.0.0, 11.1.0 skipped by the operator.
  expect((await agent(h, ["rollback"])).code).toBe(0);
  expect((await agent(h, ["update", "--now"])).code).toBe(0);
  await waitFor("11.0.0 reported", async () => (await onServer())?.version === "11.0.0");
});

test("get rollout after a host-side rollback: counts and reason agree, the reason whole, the events", async () => {
  const json = JSON.parse((await admin(["get", "rollout", "--json"])).stdout) as {
    groups: {
      name: string;
      state: string;
      up_to_date_count: number;
      present_count: number;
      reason: string;
    }[];
  };
  const g = json.groups[0];
  expect(g).toMatchObject({ name: "default", state: "done", present_count: 1, up_to_date_count: 0 });
  expect(g?.reason).toMatch(/now 0 of 1 reporting agents run 11\.1\.0; 1 on another version$/);

  const r = await admin(["get", "rollout"]);
  expect(r.code).toBe(0);
  const all = r.stdout.trimEnd().split("\n");
  for (const l of all) expect(l.length).toBeLessThanOrEqual(WIDTH);
  // The head (wrapped at 100 columns), then the groups.
  expect(all[0]).toStartWith("rollout 11.0.0 -> 11.1.0  strategy halt-on-error  schedule immediate");
  const lines = all.slice(all.findIndex((l) => l.startsWith("GROUP")) - 1);
  // At 100 columns the reason does not fit beside the counts: whole, under its row, wrapped.
  expect(lines[1]).toMatch(/^GROUP\s+STATE\s+PRESENT\s+UPDATED\s+FAILED\s+INITIAL\s+CANARIES\s+STARTED$/);
  expect(lines[2]).toMatch(/^default\s+done\s+1\s+0\s+0\s+1\s+-\s+\S+Z$/);
  expect(lines[3]).toStartWith("    reason: done since ");
  const table = r.stdout.slice(0, r.stdout.indexOf("\nevents"));
  expect(unwrap(table)).toContain(`reason: ${g?.reason}`);
  expect(unwrap(table)).not.toContain("all 1 reporting agents run 11.1.0");
  // The events, without --json: the rollout's start and the group's transitions.
  const events = r.stdout.slice(r.stdout.indexOf("\nevents"));
  expect(events).toMatch(/\nevents.*:\nTIME\s+GROUP\s+CHANGE\s+WHAT\n/);
  expect(unwrap(events)).toContain("new rollout 11.0.0 -> 11.1.0");
  expect(events).toMatch(/default\s+unstarted -> active\s+group default: schedule immediate/);
  expect(unwrap(events)).toMatch(/default active -> done group default: all 1 reporting agents run 11\.1\.0/);
});

test("get agents: the whole state and the whole error, wrapped, nothing cut", async () => {
  const json = JSON.parse((await admin(["get", "agents", "--json"])).stdout) as {
    agents: { state: string; error?: string }[];
  };
  const a = json.agents[0];
  expect(a?.state).toBe("ok");
  expect(a?.error).toBe("11.1.0 is skipped on this host by the operator (upkeep agent rollback)");
  const r = await admin(["get", "agents"]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split("\n");
  // A real agent reports its updater's version (issue 16): the UPDATER column shows it.
  expect(lines[0]).toMatch(
    /^UPDATER_ID\s+HOSTNAME\s+GROUP\s+VERSION\s+STATE\s+UPDATER\s+LAST_SEEN\s+PRESENT$/,
  );
  expect(lines[1]).toMatch(/\s11\.0\.0\s+ok\s+\S+\s+\S+Z\s+yes$/);
  // The columns are as wide as their values; the error under them wraps to the width.
  for (const l of lines.slice(2)) expect(l.length).toBeLessThanOrEqual(WIDTH);
  expect(unwrap(r.stdout)).toContain(`error: ${a?.error}`);
  // On a wide terminal the error is a column of its own, whole.
  const wide = await admin(["get", "agents"], 200);
  const [head, row] = wide.stdout.trimEnd().split("\n");
  expect(head).toMatch(/\sPRESENT\s+ERROR$/);
  expect(row).toMatch(
    /\s11\.0\.0\s+ok\s+\S+\s+\S+Z\s+yes\s+11\.1\.0 is skipped on this host by the operator \(upkeep agent rollback\)$/,
  );
});
