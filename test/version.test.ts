/**
 * `dist/upkeep version compat|plan` as an operator runs them: every rule of seeds 001/003/004, JSON shapes,
 * exit codes (0 compatible / planned, 1 not compatible / no plan, 2 bad input), no stack traces.
 */
import { describe, expect, test } from "bun:test";
import { upkeep } from "./cli.ts";

const STACK = /\bat .*\.(ts|js):\d+|^\s+at\s/m;

type CompatCase = [rule: string, server: string, client: string, compatible: boolean, says: string];

const SEED_RULES: CompatCase[] = [
  // seed 003, after 5.0.0
  ["003 modern: patch versions are always compatible", "5.0.1", "5.0.3", true, "always compatible"],
  ["003 modern: minor versions are always compatible", "6.1.0", "6.7.0", true, "always compatible"],
  [
    "003 modern: minor versions are always compatible (older client)",
    "6.7.0",
    "6.1.0",
    true,
    "always compatible",
  ],
  ["003 modern: a 6.x proxy works with 5.x nodes and tsh", "6.1.0", "5.9.2", true, "major N works with N-1"],
  ["003 modern: 7.x does not work with 5.x (no 5.x -> 7.x)", "7.0.0", "5.9.2", false, "2 majors behind"],
  ["003 modern: a 7.x tsh with a 5.x proxy is not guaranteed", "5.4.0", "7.0.0", false, "not guaranteed"],
  // seed 003, before 5.0.0
  [
    "003 legacy: patch versions are always compatible",
    "4.0.1",
    "4.0.3",
    true,
    "patch versions are always compatible",
  ],
  ["003 legacy: a minor works with the previous minor", "4.2.0", "4.1.0", true, "minor N works with N-1"],
  ["003 legacy: 4.3 does not work with 4.1 (no 4.1 -> 4.3)", "4.3.0", "4.1.0", false, "through 4.2.x first"],
  ["003 legacy: a tsh newer than its server is refused", "4.1.0", "4.2.0", false, "must not be newer"],
  // seed 004
  [
    "004: patch versions are always compatible",
    "2.4.1",
    "2.4.3",
    true,
    "patch versions are always compatible",
  ],
  ["004: a release works with the previous one", "2.4.0", "2.3.0", true, "1 minor behind"],
  ["004: 2.5 does not work with 2.3 (no 2.3 -> 2.5)", "2.5.0", "2.3.0", false, "through 2.4.x first"],
  ["004: an older client may still refuse (noted)", "2.4.0", "2.3.0", true, "may still refuse"],
  // crossing the line
  ["5.x works with the last 4.x minor", "5.0.0", "4.4.0", true, "on the last 4.x minor"],
  ["a 5.x client with a 4.x server is a newer major", "4.4.0", "5.0.0", false, "newer major"],
  // leading v
  ["a leading v is accepted", "v6.1.0", "v5.9.2", true, "client 5.9.2 is 1 major behind the server 6.1.0"],
];

describe("upkeep version compat", () => {
  for (const [rule, server, client, compatible, says] of SEED_RULES) {
    test(`${rule}: --server ${server} --client ${client}`, async () => {
      const text = await upkeep(["version", "compat", "--server", server, "--client", client]);
      expect(text.code).toBe(compatible ? 0 : 1);
      expect(text.stdout).toStartWith(compatible ? "compatible: " : "not compatible: ");
      expect(text.stdout).toContain(says);
      expect(text.stdout.trim().split("\n")).toHaveLength(1);

      const json = await upkeep(["version", "compat", "--server", server, "--client", client, "--json"]);
      expect(json.code).toBe(compatible ? 0 : 1);
      const body = JSON.parse(json.stdout);
      expect(Object.keys(body).sort()).toEqual(["compatible", "reason"]);
      expect(body.compatible).toBe(compatible);
      expect(body.reason).toContain(says);
      expect(json.stdout).not.toMatch(/"v\d/); // versions are never printed with a v
    });
  }

  test("--available decides the last 4.x minor", async () => {
    const r = await upkeep([
      "version",
      "compat",
      "--server",
      "5.0.0",
      "--client",
      "4.2.0",
      "--available",
      "4.3.0,4.4.1",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("not on the last 4.x minor (4.4)");
    const ok = await upkeep([
      "version",
      "compat",
      "--server",
      "5.0.0",
      "--client",
      "4.4.1",
      "--available",
      "4.3.0,4.4.1",
    ]);
    expect(ok.code).toBe(0);
  });

  describe("seed 001: --agent never exceeds the server, at most one major below", () => {
    const cases: [string, string, number, string][] = [
      ["16.4.0", "16.4.1", 1, "an agent never exceeds the server version"],
      ["16.4.0", "16.5.0", 1, "never exceeds"],
      ["16.4.0", "16.4.0", 0, "both 16.4.0"],
      ["16.4.0", "15.0.0", 0, "agent 15.0.0 is 1 major behind"],
      ["16.4.0", "14.9.0", 1, "2 majors behind"],
    ];
    for (const [server, agent, code, says] of cases) {
      test(`--server ${server} --agent ${agent} -> exit ${code}`, async () => {
        const r = await upkeep(["version", "compat", "--server", server, "--agent", agent, "--json"]);
        expect(r.code).toBe(code);
        expect(JSON.parse(r.stdout)).toEqual({
          compatible: code === 0,
          reason: expect.stringContaining(says),
        });
      });
    }

    test("the same versions as a client (tsh) are compatible", async () => {
      const r = await upkeep(["version", "compat", "--server", "16.4.0", "--client", "16.5.0"]);
      expect(r.code).toBe(0);
    });
  });

  describe("bad input: exit 2, one clear line naming the flag and value, no stack trace", () => {
    const cases: [string, string[], string][] = [
      ["a bad --client", ["--server", "6.1.0", "--client", "5.x"], '--client: invalid version "5.x"'],
      ["a bad --server", ["--server", "6.1", "--client", "5.9.2"], '--server: invalid version "6.1"'],
      ["a bad --agent", ["--server", "6.1.0", "--agent", "latest"], '--agent: invalid version "latest"'],
      [
        "a bad --available entry",
        ["--server", "6.1.0", "--client", "5.9.2", "--available", "6.0.0,7"],
        '--available: invalid version "7"',
      ],
      ["a leading zero", ["--server", "06.1.0", "--client", "5.9.2"], "leading zeros"],
      ["a missing --server", ["--client", "5.9.2"], "required option '--server <version>' not specified"],
      ["neither --client nor --agent", ["--server", "6.1.0"], "missing --client (or --agent)"],
      [
        "both --client and --agent",
        ["--server", "6.1.0", "--client", "6.0.0", "--agent", "6.0.0"],
        "not both",
      ],
    ];
    for (const [why, args, says] of cases) {
      test(why, async () => {
        const r = await upkeep(["version", "compat", ...args, "--json"]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(says);
        expect(r.stderr).not.toMatch(STACK);
      });
    }

    test("the bad-version message is one line plus a hint", async () => {
      const r = await upkeep(["version", "compat", "--server", "6.1.0", "--client", "5.x"]);
      expect(r.stderr).toBe(
        'upkeep: --client: invalid version "5.x": expected MAJOR.MINOR.PATCH (semver 2.0) (E_BAD_VERSION)\n' +
          "  a version looks like 6.1.0 (semver 2.0; a leading v is accepted)\n",
      );
    });
  });
});

describe("upkeep version plan", () => {
  const plans: [rule: string, from: string, to: string, available: string, steps: string[]][] = [
    [
      "003: 5.x -> 7.x goes through the newest 6.x",
      "5.2.0",
      "7.1.0",
      "6.0.0,6.3.1,7.1.0",
      ["6.3.1", "7.1.0"],
    ],
    [
      "003: 4.1 -> 4.3 goes through the newest 4.2",
      "4.1.0",
      "4.3.0",
      "4.2.0,4.2.5,4.3.0",
      ["4.2.5", "4.3.0"],
    ],
    ["004: 2.3 -> 2.5 goes through 2.4", "2.3.0", "2.5.0", "2.4.0,2.4.1", ["2.4.1", "2.5.0"]],
    ["003: a minor upgrade in a modern major is one hop", "6.1.0", "6.7.0", "6.2.0,6.5.0", ["6.7.0"]],
    ["003: a patch upgrade is one hop", "5.0.1", "5.0.3", "5.0.2", ["5.0.3"]],
    [
      "4.x -> 5.x climbs to the last 4.x minor",
      "4.2.0",
      "5.1.0",
      "4.3.0,4.4.2,5.0.0",
      ["4.3.0", "4.4.2", "5.1.0"],
    ],
    ["pre-releases are never steps", "5.2.0", "7.1.0", "6.3.1,6.4.0-rc.1,7.1.0", ["6.3.1", "7.1.0"]],
    ["an explicit pre-release target is allowed", "6.3.0", "7.0.0-rc.1", "", ["7.0.0-rc.1"]],
    ["a downgrade one minor down is one hop", "6.3.0", "6.1.0", "6.2.0", ["6.1.0"]],
    ["a downgrade to the previous major is one hop", "6.1.0", "5.9.0", "", ["5.9.0"]],
    ["a leading v is accepted and not printed", "v5.2.0", "v7.1.0", "v6.3.1", ["6.3.1", "7.1.0"]],
  ];
  for (const [rule, from, to, available, steps] of plans) {
    test(`${rule}: ${from} -> ${to}`, async () => {
      const args = ["version", "plan", "--from", from, "--to", to, "--available", available];
      const json = await upkeep([...args, "--json"]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ steps });
      const text = await upkeep(args);
      expect(text.code).toBe(0);
      expect(text.stdout).toBe(`${steps.join("\n")}\n`);
    });
  }

  test("--available may be repeated and mixed with commas", async () => {
    const r = await upkeep([
      "version",
      "plan",
      "--from",
      "4.1.0",
      "--to",
      "5.1.0",
      "--available",
      "4.2.0",
      "--available",
      "4.3.1, 4.4.2",
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ steps: ["4.2.0", "4.3.1", "4.4.2", "5.1.0"] });
  });

  test("from == to: no steps", async () => {
    const json = await upkeep([
      "version",
      "plan",
      "--from",
      "7.1.0",
      "--to",
      "v7.1.0",
      "--available",
      "",
      "--json",
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ steps: [] });
    const text = await upkeep(["version", "plan", "--from", "7.1.0", "--to", "v7.1.0", "--available", ""]);
    expect(text.stdout).toBe("already at 7.1.0\n");
  });

  const refusals: [rule: string, from: string, to: string, available: string, says: string][] = [
    [
      "003: no 6.x to go through",
      "5.2.0",
      "7.1.0",
      "7.0.0,7.1.0",
      "no 6.x release in the available versions: 5.2.0 -> 7.1.0 must go through 6.x",
    ],
    [
      "003: no 4.2.x to go through",
      "4.1.0",
      "4.3.0",
      "4.3.0",
      "no 4.2.x release in the available versions: 4.1.0 -> 4.3.0 must go through 4.2.x",
    ],
    [
      "a 6.x pre-release is not a step",
      "5.2.0",
      "7.1.0",
      "6.0.0-rc.1",
      "no 6.x release in the available versions: 5.2.0 -> 7.1.0 must go through 6.x",
    ],
    ["a downgrade over two majors", "7.3.0", "5.1.0", "6.0.0", "cannot downgrade 7.3.0 -> 5.1.0"],
  ];
  for (const [rule, from, to, available, says] of refusals) {
    test(`${rule}: exit 1, one clear line`, async () => {
      const r = await upkeep([
        "version",
        "plan",
        "--from",
        from,
        "--to",
        to,
        "--available",
        available,
        "--json",
      ]);
      expect(r.code).toBe(1);
      // The answer on stdout too, as JSON, like `compat --json`'s "no".
      expect(JSON.parse(r.stdout)).toMatchObject({ steps: null, code: "E_NO_PLAN" });
      expect(JSON.parse(r.stdout).reason).toContain(says);
      const [first, ...rest] = r.stderr.trimEnd().split("\n");
      expect(first).toStartWith("upkeep: ");
      expect(first).toContain(says);
      expect(first).toEndWith("(E_NO_PLAN)");
      expect(rest.length).toBeLessThanOrEqual(1); // at most one hint line
      expect(r.stderr).not.toMatch(STACK);
    });
  }

  const bad: [string, string[], string][] = [
    ["a bad --from", ["--from", "5.x", "--to", "7.1.0", "--available", ""], '--from: invalid version "5.x"'],
    ["a bad --to", ["--from", "5.2.0", "--to", "seven", "--available", ""], '--to: invalid version "seven"'],
    [
      "a bad --available entry",
      ["--from", "5.2.0", "--to", "7.1.0", "--available", "6.3"],
      '--available: invalid version "6.3"',
    ],
    [
      "a missing --from",
      ["--to", "7.1.0", "--available", ""],
      "required option '--from <version>' not specified",
    ],
    [
      "a missing --to",
      ["--from", "5.2.0", "--available", ""],
      "required option '--to <version>' not specified",
    ],
    [
      "a missing --available",
      ["--from", "5.2.0", "--to", "7.1.0"],
      "required option '--available <list>' not specified",
    ],
  ];
  for (const [why, args, says] of bad) {
    test(`bad input, ${why}: exit 2, no stack trace`, async () => {
      const r = await upkeep(["version", "plan", ...args, "--json"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(says);
      expect(r.stderr).not.toMatch(STACK);
    });
  }
});

describe("upkeep version", () => {
  test("without a subcommand: usage, exit 2", async () => {
    const r = await upkeep(["version"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("compat");
    expect(r.stderr).toContain("plan");
  });

  test("--help lists compat and plan", async () => {
    const r = await upkeep(["version", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}compat\b/m);
    expect(r.stdout).toMatch(/^ {2}plan\b/m);
  });
});
