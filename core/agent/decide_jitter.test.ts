/** Which updates skip the jitter (issue 10, item 3): retreats and repairs never wait, new releases do. */
import { expect, test } from "bun:test";
import { findAnswer, ON } from "./_fixtures_test_util.ts";
import { decidePass, type FindAnswer } from "./mod.ts";

/** The server says update, with a day of jitter. */
const find = (o: Partial<FindAnswer> = {}): FindAnswer =>
  findAnswer({ autoUpdate: true, jitterSeconds: 86_400, ...o });
const on = ON;

const cases: [string, { active: string; find: FindAnswer; healthy?: boolean }, boolean, RegExp][] = [
  ["a new release waits for the jitter", { active: "17.0.0", find: find() }, false, /update to 17\.0\.1/],
  [
    "a critical release still waits (it is spread like the others)",
    { active: "17.0.0", find: find({ critical: true }) },
    false,
    /critical/,
  ],
  [
    "the group was rolled back: no jitter",
    { active: "17.0.1", find: find({ agentVersion: "17.0.0", groupState: "rolledback" }) },
    true,
    /roll back to 17\.0\.0 \(the group was rolled back\)/,
  ],
  [
    "a rolled-back group whose start version is above the active one: still no jitter",
    { active: "16.0.0", find: find({ agentVersion: "17.0.0", groupState: "rolledback" }) },
    true,
    /roll back to 17\.0\.0/,
  ],
  [
    "the server names a version below the active one: a rollback, no jitter",
    { active: "17.0.1", find: find({ agentVersion: "17.0.0", groupState: "done" }) },
    true,
    /roll back to 17\.0\.0 \(below the active 17\.0\.1\)/,
  ],
  [
    "an unhealthy daemon is repaired at once, also when the server says update",
    { active: "17.0.0", find: find(), healthy: false },
    true,
    /update to 17\.0\.1/,
  ],
  ["a first install has no jitter", { active: "", find: find() }, true, /first install/],
];

for (const [name, c, urgent, reason] of cases) {
  test(name, () => {
    const d = decidePass({
      spec: on,
      status: { active: c.active, skip: [] },
      find: c.find,
      daemonHealthy: c.healthy ?? true,
    });
    expect(d.update).toBe(true);
    expect(d.update && d.urgent).toBe(urgent);
    expect(d.reason).toMatch(reason);
  });
}
