/**
 * Teleport compatibility of the resources and the rollout (issue 17, "Resources"), end to end against the
 * compiled `dist/upkeep serve`:
 * - a table of Teleport-shaped YAML (written here by hand after Teleport's docs and `tctl get` output:
 *   `version: v1`, `sub_kind`, `metadata.revision`/`expires`, `maintenance_window_duration`) applied with
 *   `upkeep admin apply` and read back;
 * - the find answers of every group state and agent mode compared with a table derived from Teleport's
 *   `lib/autoupdate/lookup/rfd_184.go` (`getVersionFromRollout`, `getTriggerFromRollout`), transcribed below;
 * - `admin get rollout --format teleport` (kind autoupdate_agent_rollout, AUTO_UPDATE_AGENT_GROUP_STATE_*),
 *   the `tctl autoupdate agents status` parts of `admin get rollout`, and `admin get agents --report`.
 */
import { describe, expect, test } from "bun:test";
import { parse } from "yaml";
import { AGENT_TOKEN, adminOk, FAR_HOUR, useWorld, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

const START = "16.4.0";
const TARGET = "17.0.1";

async function apply(w: World, yaml: string) {
  return upkeep(["admin", "apply", "--force", "-f", "-"], { env: w.env, stdin: yaml });
}

async function getJson(w: World, what: string): Promise<Record<string, unknown>> {
  const r = await adminOk(w, ["get", what, "--json"]);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

// ---- the table of Teleport-shaped YAML ----

type Row = { name: string; yaml: string; kind: "config" | "version"; spec: unknown };

const TELEPORT_YAML: Row[] = [
  {
    name: "autoupdate_config from Teleport's docs (halt-on-error, dev/staging/prod, wait_hours, canary_count)",
    kind: "config",
    yaml: `kind: autoupdate_config
metadata:
  # autoupdate_config is a singleton resource named autoupdate-config
  name: autoupdate-config
spec:
  agents:
    mode: enabled
    strategy: halt-on-error
    schedules:
      regular:
        - name: dev
          days: ["Mon", "Tue", "Wed", "Thu"]
          start_hour: 4
          canary_count: 2
        - name: staging
          days: ["Mon", "Tue", "Wed", "Thu"]
          start_hour: 14
        - name: prod
          days: ["Mon", "Tue", "Wed", "Thu"]
          start_hour: 14
          wait_hours: 24
  tools:
    mode: enabled
`,
    spec: {
      tools: { mode: "enabled" },
      agents: {
        mode: "enabled",
        strategy: "halt-on-error",
        schedules: {
          regular: [
            {
              name: "dev",
              days: ["Mon", "Tue", "Wed", "Thu"],
              start_hour: 4,
              wait_hours: 0,
              canary_count: 2,
            },
            {
              name: "staging",
              days: ["Mon", "Tue", "Wed", "Thu"],
              start_hour: 14,
              wait_hours: 0,
              canary_count: 0,
            },
            {
              name: "prod",
              days: ["Mon", "Tue", "Wed", "Thu"],
              start_hour: 14,
              wait_hours: 24,
              canary_count: 0,
            },
          ],
        },
      },
    },
  },
  {
    name: "autoupdate_config as tctl get prints it (version, sub_kind, revision, time-based, 3600s)",
    kind: "config",
    yaml: `kind: autoupdate_config
metadata:
  name: autoupdate-config
  revision: 0b0f7c3e-5d4a-4a57-9b55-0f4c2f0e6a11
spec:
  agents:
    maintenance_window_duration: 3600s
    mode: enabled
    schedules:
      regular:
      - days:
        - '*'
        name: default
        start_hour: 2
    strategy: time-based
  tools:
    mode: disabled
sub_kind: ""
version: v1
`,
    spec: {
      tools: { mode: "disabled" },
      agents: {
        mode: "enabled",
        strategy: "time-based",
        maintenance_window_duration: "3600s",
        schedules: { regular: [{ name: "default", days: ["*"], start_hour: 2 }] },
      },
    },
  },
  {
    name: "time-based with a Go duration (2h) and an expiry in the metadata",
    kind: "config",
    yaml: `kind: autoupdate_config
version: v1
metadata:
  name: autoupdate-config
  expires: "2031-01-01T00:00:00Z"
spec:
  tools:
    mode: enabled
  agents:
    mode: suspended
    strategy: time-based
    maintenance_window_duration: 2h
    schedules:
      regular:
        - { name: eu, days: ["Sat", "Sun"], start_hour: 22 }
        - { name: us, days: ["Sat", "Sun"], start_hour: 6 }
`,
    spec: {
      tools: { mode: "enabled" },
      agents: {
        mode: "suspended",
        strategy: "time-based",
        maintenance_window_duration: "7200s",
        schedules: {
          regular: [
            { name: "eu", days: ["Sat", "Sun"], start_hour: 22 },
            { name: "us", days: ["Sat", "Sun"], start_hour: 6 },
          ],
        },
      },
    },
  },
  {
    name: "upkeep's alias maintenance_window_minutes reads back under Teleport's name",
    kind: "config",
    yaml: `kind: autoupdate_config
spec:
  tools: { mode: enabled }
  agents:
    strategy: time-based
    maintenance_window_minutes: 90
    schedules:
      regular:
        - { name: all, days: ["*"], start_hour: 3 }
`,
    spec: {
      tools: { mode: "enabled" },
      agents: {
        mode: "enabled",
        strategy: "time-based",
        maintenance_window_duration: "5400s",
        schedules: { regular: [{ name: "all", days: ["*"], start_hour: 3 }] },
      },
    },
  },
  {
    name: "autoupdate_version as tctl get prints it",
    kind: "version",
    yaml: `kind: autoupdate_version
metadata:
  name: autoupdate-version
  revision: 9a1b2c3d-0000-4000-8000-000000000001
spec:
  agents:
    mode: enabled
    schedule: regular
    start_version: ${START}
    target_version: ${TARGET}
  tools:
    target_version: ${TARGET}
sub_kind: ""
version: v1
`,
    spec: {
      tools: { target_version: TARGET },
      agents: { start_version: START, target_version: TARGET, schedule: "regular", mode: "enabled" },
    },
  },
];

describe("Teleport-shaped YAML applied and read back", () => {
  let world: World;
  useWorld("tp-yaml", async (w) => {
    world = w;
  });

  test.each(TELEPORT_YAML)("$name", async (row) => {
    const r = await apply(world, row.yaml);
    expect(r.code, r.stderr).toBe(0);
    const back = await getJson(world, row.kind);
    expect(back.kind).toBe(`autoupdate_${row.kind}`);
    expect(back.metadata).toEqual({ name: `autoupdate-${row.kind}` });
    expect(back.spec).toEqual(row.spec);
    // What upkeep prints is accepted again as it is (the round trip back).
    const again = await adminOk(world, ["get", row.kind]);
    expect((await apply(world, again.stdout)).code).toBe(0);
    expect((await getJson(world, row.kind)).spec).toEqual(row.spec);
  });

  test("a window shorter than Teleport's 10 minutes is refused, naming the field, and nothing changes", async () => {
    const before = await getJson(world, "config");
    const r = await apply(
      world,
      `kind: autoupdate_config\nspec:\n  agents:\n    strategy: time-based\n    maintenance_window_duration: 5m\n`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("spec.agents.maintenance_window_duration");
    expect(r.stderr).toContain("10 minutes");
    expect(await getJson(world, "config")).toEqual(before);
  });
});

// ---- the find answers against Teleport's rfd_184.go ----

type Mode = "enabled" | "suspended" | "disabled";
type State = "unstarted" | "canary" | "active" | "done" | "rolledback";

/** rfd_184.go getVersionFromRollout, transcribed: the version an agent is told. */
function teleportVersion(mode: Mode, schedule: string, state: State, isCanary: boolean): string {
  if (mode === "disabled") return TARGET;
  if (schedule === "immediate") return TARGET;
  switch (state) {
    case "unstarted":
    case "rolledback":
      return START;
    case "active":
    case "done":
      return TARGET;
    case "canary":
      return isCanary ? TARGET : START;
  }
}

/** rfd_184.go getTriggerFromRollout, transcribed: whether it is told to update now (halt-on-error). */
function teleportTrigger(mode: Mode, schedule: string, state: State, isCanary: boolean): boolean {
  if (mode === "disabled" || mode === "suspended") return false;
  if (schedule === "immediate") return true;
  switch (state) {
    case "unstarted":
      return false;
    case "active":
    case "rolledback":
      return true;
    case "done":
      return true; // strategy halt-on-error
    case "canary":
      return isCanary;
  }
}

/** Groups, each driven to one state by operator actions; the last one is the catch-all. */
const GROUPS: [string, State][] = [
  ["cn", "canary"],
  ["act", "active"],
  ["dn", "done"],
  ["rb", "rolledback"],
  ["un", "unstarted"],
];

/** The agents asking: group, updater id, whether Teleport sees it as its group's canary. */
const ASKERS: [string, string, boolean][] = [
  ["cn", "c1", true],
  ["cn", "not-a-canary", false],
  ["act", "", false],
  ["dn", "", false],
  ["rb", "", false],
  ["un", "", false],
  ["no-such-group", "", false], // the catch-all: un
];

async function report(w: World, id: string, group: string, version: string): Promise<void> {
  const r = await fetch(`${w.url}/v1/agents/report`, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      updater_id: id,
      hostname: `${id}.example`,
      ...(group ? { group } : {}),
      version,
      state: "ok",
    }),
  });
  expect(r.status).toBe(200);
}

async function find(w: World, group: string, updaterId: string) {
  const q = new URLSearchParams({ group, updater_id: updaterId });
  const r = await fetch(`${w.url}/v1/webapi/find?${q}`);
  expect(r.status).toBe(200);
  const body = (await r.json()) as { auto_update: { agent_version: string; agent_auto_update: boolean } };
  return body.auto_update;
}

function versionDoc(mode: Mode, schedule: string): string {
  return `kind: autoupdate_version\nspec:\n  agents: { start_version: ${START}, target_version: ${TARGET}, schedule: ${schedule}, mode: ${mode} }\n`;
}

describe("find answers of every group state and mode, as Teleport's rfd_184.go decides", () => {
  let world: World;
  useWorld("tp-find", async (w) => {
    world = w;
    const groups = GROUPS.map(
      ([name]) =>
        `        - { name: ${name}, days: ["*"], start_hour: ${FAR_HOUR}${name === "cn" ? ", canary_count: 1" : ""} }\n`,
    ).join("");
    const r = await apply(
      w,
      `kind: server\nserver_version: ${TARGET}\n---\nkind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n  agents:\n    strategy: halt-on-error\n    schedules:\n      regular:\n${groups}---\n${versionDoc("enabled", "regular")}`,
    );
    if (r.code !== 0) throw new Error(r.stderr);
    await report(w, "c1", "cn", START);
    await report(w, "a1", "act", START);
    await adminOk(w, ["rollout", "start", "cn"]); // canary: c1 is chosen (the only agent of cn)
    await adminOk(w, ["rollout", "force", "act"]);
    await adminOk(w, ["rollout", "done", "dn"]);
    await adminOk(w, ["rollout", "force", "rb"]);
    await adminOk(w, ["rollout", "rollback", "rb"]);
  });

  test("the groups are in the states the table needs", async () => {
    const view = (await getJson(world, "rollout")) as {
      groups: { name: string; state: string; canaries: { updater_id: string }[] }[];
    };
    expect(view.groups.map((g) => [g.name, g.state])).toEqual(GROUPS);
    expect(view.groups[0]?.canaries.map((c) => c.updater_id)).toEqual(["c1"]);
  });

  for (const mode of ["enabled", "suspended", "disabled"] as const) {
    test(`schedule regular, mode ${mode}: every group's answer is Teleport's`, async () => {
      const r = await apply(world, versionDoc(mode, "regular"));
      expect(r.code).toBe(0);
      for (const [group, id, isCanary] of ASKERS) {
        const state = (GROUPS.find(([g]) => g === group) ?? GROUPS[GROUPS.length - 1])?.[1] as State;
        const want = {
          agent_version: teleportVersion(mode, "regular", state, isCanary),
          agent_auto_update: teleportTrigger(mode, "regular", state, isCanary),
        };
        const got = await find(world, group, id);
        expect({ mode, group, id, ...got }).toMatchObject({ mode, group, id, ...want });
      }
    });
  }

  test("admin get rollout --format teleport: kind autoupdate_agent_rollout with Teleport's names", async () => {
    expect((await apply(world, versionDoc("enabled", "regular"))).code).toBe(0);
    const r = await adminOk(world, ["get", "rollout", "--format", "teleport"]);
    const doc = parse(r.stdout) as {
      kind: string;
      version: string;
      metadata: { name: string };
      spec: Record<string, unknown>;
      status: { state: string; start_time: string; groups: Record<string, unknown>[] };
    };
    expect([doc.kind, doc.version, doc.metadata.name]).toEqual([
      "autoupdate_agent_rollout",
      "v1",
      "autoupdate-agent-rollout",
    ]);
    expect(doc.spec).toEqual({
      start_version: START,
      target_version: TARGET,
      schedule: "regular",
      autoupdate_mode: "enabled",
      strategy: "halt-on-error",
    });
    expect(doc.status.state).toBe("AUTO_UPDATE_AGENT_ROLLOUT_STATE_ROLLEDBACK");
    expect(doc.status.start_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(doc.status.groups.map((g) => [g.name, g.state])).toEqual([
      ["cn", "AUTO_UPDATE_AGENT_GROUP_STATE_CANARY"],
      ["act", "AUTO_UPDATE_AGENT_GROUP_STATE_ACTIVE"],
      ["dn", "AUTO_UPDATE_AGENT_GROUP_STATE_DONE"],
      ["rb", "AUTO_UPDATE_AGENT_GROUP_STATE_ROLLEDBACK"],
      ["un", "AUTO_UPDATE_AGENT_GROUP_STATE_UNSTARTED"],
    ]);
    const cn = doc.status.groups[0] as Record<string, unknown>;
    expect(cn).toMatchObject({
      config_days: ["*"],
      canary_count: "1",
      initial_count: "1",
      present_count: "1",
      canaries: [{ updater_id: "c1", hostname: "c1.example" }],
    });
    if (FAR_HOUR !== 0) expect(cn.config_start_hour).toBe(FAR_HOUR);
    // The same in protobuf JSON with --json.
    const j = await adminOk(world, ["get", "rollout", "--format", "teleport", "--json"]);
    expect(JSON.parse(j.stdout)).toEqual(doc);
  });

  test("admin get rollout shows what tctl autoupdate agents status does: state, canaries, catch-all", async () => {
    const r = await upkeep(["admin", "get", "rollout"], { env: { ...world.env, COLUMNS: "200" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "rollout state rolledback; catch-all group un (agents with an unknown or no group)",
    );
    expect(r.stdout).toMatch(/^cn +canary .*0\/1 ok/m);
    const view = await getJson(world, "rollout");
    expect(view.state).toBe("rolledback");
    expect(view.effective_mode).toBe("enabled");
    const groups = view.groups as { name: string; catch_all: boolean; canary_count: number }[];
    expect(groups.map((g) => [g.name, g.catch_all, g.canary_count])).toEqual([
      ["cn", false, 1],
      ["act", false, 0],
      ["dn", false, 0],
      ["rb", false, 0],
      ["un", true, 0],
    ]);
  });

  test("admin get agents --report: present agents by version and group", async () => {
    await report(world, "u1", "", TARGET); // no group: counted in the catch-all un
    const r = await adminOk(world, ["get", "agents", "--report", "--json"]);
    const summary = JSON.parse(r.stdout) as {
      agent_count: number;
      groups: string[];
      versions: string[];
      counts: { group: string; version: string; count: number }[];
    };
    expect(summary.agent_count).toBe(3);
    expect(summary.groups).toEqual(["cn", "act", "dn", "rb", "un"]);
    expect(summary.versions).toEqual([START, TARGET]);
    const nonZero = summary.counts.filter((c) => c.count > 0).map((c) => [c.group, c.version, c.count]);
    expect(nonZero).toEqual([
      ["cn", START, 1],
      ["act", START, 1],
      ["un", TARGET, 1],
    ]);
    const text = await upkeep(["admin", "get", "agents", "--report"], {
      env: { ...world.env, COLUMNS: "200" },
    });
    expect(text.stdout).toContain("3 present agents by version and group");
    expect(text.stdout).toMatch(/^VERSION +cn +act +dn +rb +un \(catch-all\)$/m);
    expect(text.stdout).toMatch(/^16\.4\.0 +1 +1 +0 +0 +0$/m);
    const refused = await upkeep(["admin", "get", "agents", "--report", "--group", "cn"], { env: world.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--group");
  });

  for (const mode of ["enabled", "suspended", "disabled"] as const) {
    test(`schedule immediate, mode ${mode}: the target to every group, update only when enabled`, async () => {
      const r = await apply(world, versionDoc(mode, "immediate"));
      expect(r.code).toBe(0);
      for (const [group, id, isCanary] of ASKERS) {
        const got = await find(world, group, id);
        expect({ mode, group, ...got }).toMatchObject({
          mode,
          group,
          agent_version: teleportVersion(mode, "immediate", "unstarted", isCanary),
          agent_auto_update: teleportTrigger(mode, "immediate", "unstarted", isCanary),
        });
      }
    });
  }

  test("no rollout: --format teleport says there is none (as Teleport's NotFound)", async () => {
    const r = await apply(world, `kind: autoupdate_version\nspec:\n  agents: null\n`);
    expect(r.code).toBe(0);
    const none = await upkeep(["admin", "get", "rollout", "--format", "teleport"], { env: world.env });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("no autoupdate_agent_rollout");
  });
});
