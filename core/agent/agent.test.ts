/** Table tests of the agent's pure decisions: pass decision, health verdicts, crash recovery, state file. */
import { describe, expect, test } from "bun:test";
import { findAnswer, ON } from "./_fixtures_test_util.ts";
import {
  addSkip,
  checkSuggestedArtifact,
  decidePass,
  emptyStatus,
  formatState,
  isReleaseVerdict,
  isSkippedByOperator,
  judgeHealth,
  parseFindAnswer,
  parseState,
  planRecovery,
  printsVersion,
  removeSkip,
  restartDelayMs,
  StateFileError,
  skipsRelease,
  versionOfDir,
  versionsToKeep,
} from "./mod.ts";
import type { AgentStatus } from "./types.ts";

const find = findAnswer;
const on = ON;

describe("decidePass", () => {
  const cases: [string, Parameters<typeof decidePass>[0], boolean, RegExp][] = [
    [
      "disabled",
      {
        spec: { enabled: false, pinned: false },
        status: { active: "17.0.0", skip: [] },
        find: find({ autoUpdate: true }),
        daemonHealthy: true,
      },
      false,
      /disabled/,
    ],
    [
      "pinned",
      {
        spec: { enabled: true, pinned: true },
        status: { active: "17.0.0", skip: [] },
        find: find({ autoUpdate: true }),
        daemonHealthy: false,
      },
      false,
      /pinned to 17.0.0/,
    ],
    [
      "up to date",
      {
        spec: on,
        status: { active: "17.0.1", skip: [] },
        find: find({ autoUpdate: true }),
        daemonHealthy: false,
      },
      false,
      /up to date/,
    ],
    [
      "skipped",
      {
        spec: on,
        status: { active: "17.0.0", skip: ["17.0.1"] },
        find: find({ autoUpdate: true }),
        daemonHealthy: true,
      },
      false,
      /skipped/,
    ],
    [
      "above the server",
      {
        spec: on,
        status: { active: "17.0.0", skip: [] },
        find: find({ agentVersion: "18.0.0", autoUpdate: true }),
        daemonHealthy: true,
      },
      false,
      /above its own version/,
    ],
    [
      "server says update",
      {
        spec: on,
        status: { active: "17.0.0", skip: [] },
        find: find({ autoUpdate: true, critical: true }),
        daemonHealthy: true,
      },
      true,
      /critical/,
    ],
    [
      "not told, healthy",
      { spec: on, status: { active: "17.0.0", skip: [] }, find: find(), daemonHealthy: true },
      false,
      /waiting for the server/,
    ],
    [
      "not told, health unknown",
      { spec: on, status: { active: "17.0.0", skip: [] }, find: find(), daemonHealthy: undefined },
      false,
      /waiting/,
    ],
    [
      "not told, unhealthy, target differs",
      { spec: on, status: { active: "17.0.0", skip: [] }, find: find(), daemonHealthy: false },
      true,
      /unhealthy/,
    ],
    [
      "nothing installed",
      { spec: on, status: { active: "", skip: [] }, find: find(), daemonHealthy: undefined },
      true,
      /first install/,
    ],
    [
      "a downgrade the server asks for (group rolled back)",
      {
        spec: on,
        status: { active: "17.0.1", skip: [] },
        find: find({ agentVersion: "17.0.0", autoUpdate: true }),
        daemonHealthy: true,
      },
      true,
      /17.0.0/,
    ],
  ];
  for (const [name, input, update, reason] of cases) {
    test(name, () => {
      const d = decidePass(input);
      expect(d.update).toBe(update);
      expect(d.reason).toMatch(reason);
    });
  }
  test("an unhealthy or first-install update skips the jitter", () => {
    const d = decidePass({
      spec: on,
      status: { active: "17.0.0", skip: [] },
      find: find(),
      daemonHealthy: false,
    });
    expect(d.update && d.urgent).toBe(true);
    const s = decidePass({
      spec: on,
      status: { active: "17.0.0", skip: [] },
      find: find({ autoUpdate: true }),
      daemonHealthy: true,
    });
    expect(s.update && s.urgent).toBe(false);
  });
});

test("a server with no version policy yet names no version: no update, not even a first install", () => {
  const a = parseFindAnswer({
    server_version: "",
    auto_update: { agent_version: "", agent_auto_update: false },
    upkeep: {
      reason: "no version policy yet: autoupdate_version has no spec.agents (...): no version, no update",
    },
  });
  if (typeof a === "string") throw new Error(a);
  expect(a.agentVersion).toBe("");
  expect(a.adjusted).toBe("");
  for (const active of ["", "17.0.0"]) {
    const d = decidePass({ spec: on, status: { active, skip: [] }, find: a, daemonHealthy: false });
    expect(d.update).toBe(false);
    expect(d.reason).toContain("names no version yet (no version policy yet");
  }
  // A cap or raise the server made is kept for the agent's error.
  const capped = parseFindAnswer({
    auto_update: { agent_version: "17.0.1", agent_auto_update: true },
    upkeep: { adjusted: { kind: "capped", from: "18.0.0", to: "17.0.1", why: "target 18.0.0 is newer" } },
  });
  expect(typeof capped !== "string" && capped.adjusted).toBe("target 18.0.0 is newer");
  // An empty version with auto update on is still a malformed answer.
  expect(parseFindAnswer({ auto_update: { agent_version: "", agent_auto_update: true } })).toBe(
    "auto_update.agent_version is not a version",
  );
});

describe("parseFindAnswer and the suggested artifact", () => {
  test("the serve answer", () => {
    const a = parseFindAnswer({
      server_version: "v17.0.1",
      edition: "ent",
      auto_update: { agent_version: "v17.0.1", agent_auto_update: true, agent_update_jitter_seconds: 30 },
      upkeep: { artifact: "hello-ent-v17.0.1-{os}-{arch}-bin.tar.gz", critical: true, group_state: "canary" },
    });
    expect(a).toMatchObject({
      serverVersion: "17.0.1",
      agentVersion: "17.0.1",
      autoUpdate: true,
      jitterSeconds: 30,
      edition: "ent",
      critical: true,
    });
  });
  test("malformed answers are refused, never an update", () => {
    expect(parseFindAnswer(null)).toBeTypeOf("string");
    expect(parseFindAnswer({ auto_update: { agent_version: "x", agent_auto_update: true } })).toContain(
      "agent_version",
    );
    expect(parseFindAnswer({ auto_update: { agent_version: "1.0.0", agent_auto_update: "yes" } })).toContain(
      "agent_auto_update",
    );
  });
  test("a name from the server is accepted only when it equals the local template's", () => {
    const local = "hello-v1.0.0-linux-amd64-bin.tar.gz";
    expect(checkSuggestedArtifact("", local, "linux", "amd64")).toBeUndefined();
    expect(
      checkSuggestedArtifact("hello-v1.0.0-{os}-{arch}-bin.tar.gz", local, "linux", "amd64"),
    ).toBeUndefined();
    expect(checkSuggestedArtifact("evil-v1.0.0-linux-amd64-bin.tar.gz", local, "linux", "amd64")).toContain(
      "refused",
    );
  });
});

describe("judgeHealth", () => {
  const policy = { stablePolls: 3, maxRestarts: 0 };
  const s = (at: number, pid: number, restarts = 0, probe?: boolean) => ({
    at,
    pid,
    restarts,
    ...(probe === undefined ? {} : { probe: { ok: probe, detail: probe ? "ok" : "no" } }),
  });
  test("healthy only once the watch is over, with the same PID", () => {
    expect(judgeHealth([s(0, 10), s(1, 10), s(2, 10)], policy, false).state).toBe("pending");
    expect(judgeHealth([s(0, 10), s(1, 10), s(2, 10)], policy, true).state).toBe("healthy");
  });
  test("a restart or an exit is unhealthy at once", () => {
    expect(judgeHealth([s(0, 10), s(1, 11, 1)], policy, false).state).toBe("unhealthy");
    expect(judgeHealth([s(0, 10), s(1, 0)], policy, false).detail).toContain("exited");
  });
  test("a failing probe at the end is unhealthy; not started yet is pending", () => {
    expect(
      judgeHealth([s(0, 10, 0, false), s(1, 10, 0, false), s(2, 10, 0, false)], policy, true).detail,
    ).toContain("probe");
    expect(judgeHealth([s(0, 10, 0, false), s(1, 10, 0, false), s(2, 10, 0, true)], policy, true).state).toBe(
      "healthy",
    );
    expect(judgeHealth([s(0, 0)], policy, false).state).toBe("pending");
    expect(judgeHealth([], policy, true).state).toBe("unhealthy");
  });
  test("restart backoff doubles up to 30 s", () => {
    expect([0, 1, 2, 3, 10].map(restartDelayMs)).toEqual([0, 500, 1000, 2000, 30_000]);
  });
});

describe("planRecovery", () => {
  const dirName = (v: string) => v;
  const installed = (...names: string[]) =>
    names
      .map((name) => ({ name, complete: !name.startsWith("!") }))
      .map((v) => ({ ...v, name: v.name.replace("!", "") }));
  const st = (o: Partial<AgentStatus>): AgentStatus => ({ ...emptyStatus(), ...o });

  test("nothing wrong: nothing to do", () => {
    const p = planRecovery({
      status: st({ active: "1.0.0" }),
      current: "1.0.0",
      installed: installed("1.0.0"),
      dirName,
    });
    expect(p.notes).toEqual([]);
    expect(p.switchTo).toBeUndefined();
  });
  test("intent, current still old: the intent is dropped", () => {
    const p = planRecovery({
      status: st({ active: "1.0.0", updating: { from: "1.0.0", to: "1.1.0", started: "" } }),
      current: "1.0.0",
      installed: installed("1.0.0", "1.1.0"),
      dirName,
    });
    expect(p.status.updating).toBeUndefined();
    expect(p.status.active).toBe("1.0.0");
  });
  test("intent, current switched: active is the new one, the intent stays to settle health", () => {
    const p = planRecovery({
      status: st({ active: "1.0.0", updating: { from: "1.0.0", to: "1.1.0", started: "" } }),
      current: "1.1.0",
      installed: installed("1.0.0", "1.1.0"),
      dirName,
    });
    expect(p.status).toMatchObject({ active: "1.1.0", backup: "1.0.0", updating: { to: "1.1.0" } });
    expect(p.restart).toBe(true);
  });
  test("a rollback cut short before the switch back: finished (switched back, skipped)", () => {
    const p = planRecovery({
      status: st({
        active: "1.0.0",
        updating: { from: "1.0.0", to: "1.1.0", started: "", rollingBack: { reason: "crash" } },
      }),
      current: "1.1.0",
      installed: installed("1.0.0", "1.1.0"),
      dirName,
    });
    expect(p.switchTo).toBe("1.0.0");
    expect(p.status).toMatchObject({ active: "1.0.0", skip: ["1.1.0"] });
    expect(p.status.updating).toBeUndefined();
    expect(p.rolledBack).toEqual({ version: "1.1.0", reason: "crash" });
  });
  test("a rollback cut short after the switch back: skip recorded", () => {
    const p = planRecovery({
      status: st({
        active: "1.0.0",
        updating: { from: "1.0.0", to: "1.1.0", started: "", rollingBack: { reason: "x" } },
      }),
      current: "1.0.0",
      installed: installed("1.0.0", "1.1.0"),
      dirName,
    });
    expect(p.status.skip).toEqual(["1.1.0"]);
    expect(p.switchTo).toBeUndefined();
  });
  test("when the daemon is restarted (table)", () => {
    const intent = (rollingBack: boolean) => ({
      from: "1.0.0",
      to: "1.1.0",
      started: "",
      ...(rollingBack ? { rollingBack: { reason: "x" } } : {}),
    });
    const cases: [string, Partial<AgentStatus>, string, boolean, string | undefined][] = [
      ["nothing wrong", { active: "1.0.0" }, "1.0.0", false, undefined],
      // agent:after-revert under systemd: update.yaml and current agree on 1.0.0, the daemon still runs 1.1.0
      [
        "rollback cut short after the switch back",
        { active: "1.0.0", updating: intent(true) },
        "1.0.0",
        true,
        undefined,
      ],
      [
        "rollback cut short before the switch back",
        { active: "1.0.0", updating: intent(true) },
        "1.1.0",
        true,
        "1.0.0",
      ],
      ["update that did not switch", { active: "1.0.0", updating: intent(false) }, "1.0.0", true, undefined],
      [
        "update switched, health not settled",
        { active: "1.0.0", updating: intent(false) },
        "1.1.0",
        true,
        undefined,
      ],
      [
        "same-version intent on current",
        { active: "1.0.0", updating: { from: "1.0.0", to: "1.0.0", started: "" } },
        "1.0.0",
        false,
        undefined,
      ],
      ["file says another version, no intent", { active: "1.0.0" }, "1.1.0", true, undefined],
    ];
    for (const [name, status, current, restart, switchTo] of cases) {
      const p = planRecovery({
        status: st(status),
        current,
        installed: installed("1.0.0", "1.1.0"),
        dirName,
      });
      expect({ name, restart: p.restart, switchTo: p.switchTo }).toEqual({ name, restart, switchTo });
      // Only an unsettled switch keeps its intent (the health check after the restart settles it).
      expect({ name, kept: p.status.updating !== undefined }).toEqual({
        name,
        kept: name === "update switched, health not settled",
      });
    }
  });
  test("current missing or pointing at an incomplete folder: the best complete version", () => {
    const p = planRecovery({
      status: st({ active: "1.1.0", backup: "1.0.0" }),
      current: "1.1.0",
      installed: installed("1.0.0", "!1.1.0"),
      dirName,
    });
    expect(p.switchTo).toBe("1.0.0");
    expect(p.status.active).toBe("1.0.0");
    const q = planRecovery({
      status: st({}),
      current: undefined,
      installed: installed("1.0.0", "1.2.0"),
      dirName,
    });
    expect(q.switchTo).toBe("1.2.0");
  });
  test("update.yaml disagrees with current (no intent): the file is fixed", () => {
    const p = planRecovery({
      status: st({ active: "1.0.0" }),
      current: "1.1.0",
      installed: installed("1.0.0", "1.1.0"),
      dirName,
    });
    expect(p.status).toMatchObject({ active: "1.1.0", backup: "1.0.0" });
  });
  test("versions to keep and folder names", () => {
    expect(versionsToKeep(st({ active: "1.1.0", backup: "1.0.0" }), (v) => `${v}_ent`)).toEqual([
      "1.1.0_ent",
      "1.0.0_ent",
    ]);
    expect(versionOfDir("17.0.1_ent_fips")).toBe("17.0.1");
    expect(versionOfDir(".tmp-abc")).toBeUndefined();
  });
});

describe("update.yaml", () => {
  const yaml = `version: 1
kind: upkeep_agent
spec:
  server: https://upkeep.example.com
  product: hello
  base_url: https://cdn.example.com
  trust_keys: [RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3]
  service: supervise
  daemon: hello
  bin_dir: /usr/local/bin
  updater_id: abc
status:
  active: v1.0.0
`;
  test("parses with defaults and canonical versions; round-trips", () => {
    const s = parseState(yaml);
    expect(s.spec).toMatchObject({ enabled: true, pinned: false, group: "", healthWaitMs: 10_000 });
    expect(s.status.active).toBe("1.0.0");
    expect(parseState(formatState(s))).toEqual(s);
  });
  test("every problem is named by its field path", () => {
    try {
      parseState(
        yaml
          .replace("service: supervise", "service: docker")
          .replace("daemon: hello", "daemon: ../x")
          .replace("active: v1.0.0", "active: nope\n  colour: blue"),
      );
      throw new Error("not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(StateFileError);
      const paths = (e as StateFileError).problems.map((p) => p.path);
      expect(paths).toEqual(
        expect.arrayContaining(["spec.service", "spec.daemon", "status.active", "status.colour"]),
      );
    }
  });
  test("not YAML, wrong kind", () => {
    expect(() => parseState("a: [")).toThrow("not valid YAML");
    expect(() => parseState("version: 2\nkind: other\nspec: {}\n")).toThrow("version");
  });
});

describe("isReleaseVerdict: which failures are reported as a failed release", () => {
  const release = [
    "E_CHECKSUM",
    "E_SIGNATURE",
    "E_SIZE",
    "E_UNSAFE_ARCHIVE",
    "E_MALFORMED",
    "E_BELOW_FLOOR",
    "E_SMOKE",
    "E_UNHEALTHY",
  ];
  const notRelease = [
    "E_NETWORK",
    "E_SERVER",
    "E_CANCELLED",
    "E_NOT_FOUND",
    "E_NO_SPACE",
    "E_IO",
    "E_EXISTS",
    "E_LOCKED",
    "E_NOT_IN_MANIFEST",
    "E_EXPIRED",
    "E_ROLLBACK",
    "E_CONFLICT",
    "E_HOST_CONFIG",
    "E_KEY",
    "E_INTERNAL",
  ];
  for (const c of release) test(`${c}: the release`, () => expect(isReleaseVerdict(c)).toBe(true));
  for (const c of notRelease) test(`${c}: tried again`, () => expect(isReleaseVerdict(c)).toBe(false));
});

describe("skipsRelease: which release verdicts also skip the version (never downloaded again until pinned)", () => {
  // The same signed bytes get the same verdict at every try.
  const skipped = ["E_SMOKE", "E_UNSAFE_ARCHIVE", "E_MALFORMED"];
  // Bytes or a signature that do not match the signed manifest are the mirror's (mid-sync, a bad cache):
  // reported, tried again. Below the floor: nothing is downloaded, and the floor may move. Unhealthy: the
  // rollback skips it itself. Anything that is no verdict at all: tried again.
  const tried = [
    "E_CHECKSUM",
    "E_SIGNATURE",
    "E_SIZE",
    "E_BELOW_FLOOR",
    "E_UNHEALTHY",
    "E_NETWORK",
    "E_MANIFEST",
  ];
  for (const c of skipped) test(`${c}: skipped`, () => expect(skipsRelease(c)).toBe(true));
  for (const c of tried) test(`${c}: not skipped`, () => expect(skipsRelease(c)).toBe(false));
  test("every skipping code is a release verdict", () => {
    for (const c of skipped) expect(isReleaseVerdict(c)).toBe(true);
  });
});

describe("printsVersion: the smoke test's proof of the version", () => {
  const cases: [string, string, boolean][] = [
    ["hello v1.2.3", "1.2.3", true],
    ["1.2.3", "1.2.3", true],
    ["hello 1.2.3 (linux/amd64)", "1.2.3", true],
    ["version: V1.2.3\n", "1.2.3", true],
    ["hello-1.2.3", "1.2.3", true],
    ["hello 1.2.3.", "1.2.3", true],
    ["hello 1.2.3+build.5", "1.2.3", true],
    ["hello 1.2.3-rc.1", "1.2.3-rc.1", true],
    ["hello v11.2.3", "1.2.3", false],
    ["hello 11.2.3", "1.2.3", false],
    ["hello 1.2.30", "1.2.3", false],
    ["hello 1.2.3.4", "1.2.3", false],
    ["hello 1.2.3-rc.1", "1.2.3", false],
    ["hello 0.1.2.3", "1.2.3", false],
    ["hello 1x2y3", "1.2.3", false],
    ["", "1.2.3", false],
  ];
  for (const [out, version, ok] of cases)
    test(`${JSON.stringify(out)} ${ok ? "proves" : "does not prove"} ${version}`, () =>
      expect(printsVersion(out, version)).toBe(ok));
});

describe("skips chosen by the operator (agent rollback) are not failures", () => {
  test("decidePass says the operator skipped it; isSkippedByOperator", () => {
    const status = { active: "17.0.0", skip: ["17.0.1"], skipByOperator: ["17.0.1"] };
    const d = decidePass({ spec: on, status, find: find({ autoUpdate: true }), daemonHealthy: true });
    expect(d.update).toBe(false);
    expect(d.reason).toContain("skipped on this host by the operator");
    expect(isSkippedByOperator(status, "17.0.1")).toBe(true);
    expect(isSkippedByOperator({ ...status, skipByOperator: [] }, "17.0.1")).toBe(false);
  });
  test("addSkip / removeSkip keep the operator's part a subset of skip", () => {
    const s = { ...emptyStatus() };
    addSkip(s, "1.0.0", true);
    expect(s).toMatchObject({ skip: ["1.0.0"], skipByOperator: ["1.0.0"] });
    // It then failed for real: no longer the operator's choice.
    addSkip(s, "1.0.0");
    expect(s).toMatchObject({ skip: ["1.0.0"], skipByOperator: [] });
    addSkip(s, "2.0.0", true);
    removeSkip(s, "2.0.0");
    expect(s).toMatchObject({ skip: ["1.0.0"], skipByOperator: [] });
  });
  test("update.yaml keeps skip_by_operator (left out when empty)", () => {
    const st = parseState(
      "version: 1\nkind: upkeep_agent\nspec:\n  server: https://s\n  product: hello\n  base_url: https://b\n  trust_keys: [RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3]\n  service: supervise\n  daemon: hello\n  bin_dir: /usr/local/bin\n  updater_id: x\nstatus:\n  skip: [1.0.0]\n  skip_by_operator: [1.0.0]\n",
    );
    expect(st.status.skipByOperator).toEqual(["1.0.0"]);
    expect(formatState(st)).toContain("skip_by_operator:\n    - 1.0.0");
    expect(formatState({ ...st, status: { ...st.status, skipByOperator: [] } })).not.toContain(
      "skip_by_operator",
    );
  });
});
