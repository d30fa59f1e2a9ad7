import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { cachedAnswer, cacheTtlMs, chooseVersion, isBelow } from "./choose_version.ts";
import { effectiveServer } from "./effective_server.ts";
import { shouldForward } from "./forward_signal.ts";
import { isToolName } from "./is_tool_name.ts";
import { outOfDateMessage } from "./out_of_date_message.ts";
import { parseToolsState } from "./parse_tools_state.ts";
import { progressBar } from "./progress_bar.ts";
import {
  findRefusal,
  isFreshRefusal,
  MAX_REASON_CHARS,
  MAX_REFUSED,
  REFUSAL_RECHECK_MS,
  withoutRefusal,
  withRefusal,
  withRefusalChecked,
  withRefusalsListed,
} from "./refused.ts";
import { sameServer } from "./same_server.ts";
import type { RefusedRelease, ToolsState } from "./types.ts";
import { versionsToRemove } from "./versions_to_remove.ts";

const NOW = 1_800_000_000_000;
const base: ToolsState = { server: "https://s", product: "hello", trustKeys: [], enrolled: true };
const fresh = (v: string, auto = true) => ({ toolsVersion: v, toolsAutoUpdate: auto, fetchedAt: NOW - 1000 });

describe("chooseVersion: env > pin > server (enrolled, auto) > installed", () => {
  const cases: [string, Parameters<typeof chooseVersion>[0], Partial<ReturnType<typeof chooseVersion>>][] = [
    [
      "env version wins over everything",
      {
        state: { ...base, pinned: "1.0.0", cache: fresh("2.0.0") },
        envVersion: "v3.0.0",
        installed: ["1.0.0"],
        now: NOW,
      },
      { version: "3.0.0", source: "env", stale: false },
    ],
    [
      "env off runs the newest installed and never updates",
      {
        state: { ...base, cache: fresh("2.0.0") },
        envVersion: "off",
        installed: ["1.0.0", "1.10.0", "1.9.0"],
        now: NOW,
      },
      { version: "1.10.0", source: "installed", off: true, stale: false },
    ],
    [
      "env off with nothing installed: nothing to run",
      { state: base, envVersion: "off", installed: [], now: NOW },
      { source: "none", off: true },
    ],
    [
      "pin beats the server",
      { state: { ...base, pinned: "1.0.0", cache: fresh("2.0.0") }, installed: [], now: NOW },
      { version: "1.0.0", source: "pin" },
    ],
    [
      "enrolled + auto update: the server's version",
      { state: { ...base, cache: fresh("2.0.0") }, installed: ["1.0.0"], now: NOW },
      { version: "2.0.0", source: "server", stale: false },
    ],
    [
      "a stale cache is still used, and flagged for refresh",
      {
        state: { ...base, cache: { ...fresh("2.0.0"), fetchedAt: NOW - 2 * 3600_000 } },
        installed: [],
        now: NOW,
      },
      { version: "2.0.0", source: "server", stale: true },
    ],
    [
      "no cache yet: stale, the installed one meanwhile",
      { state: base, installed: ["1.0.0"], now: NOW },
      { version: "1.0.0", source: "installed", stale: true },
    ],
    [
      "server says no auto update: installed, and out of date",
      { state: { ...base, cache: fresh("2.0.0", false) }, installed: ["1.0.0"], now: NOW },
      { version: "1.0.0", source: "installed", outOfDate: "2.0.0" },
    ],
    [
      "not enrolled: installed, warned out of date",
      { state: { ...base, enrolled: false, cache: fresh("2.0.0") }, installed: ["1.0.0"], now: NOW },
      { version: "1.0.0", source: "installed", outOfDate: "2.0.0" },
    ],
    [
      "not enrolled, nothing installed: the server's version is the only one",
      { state: { ...base, enrolled: false, cache: fresh("2.0.0") }, installed: [], now: NOW },
      { version: "2.0.0", source: "server" },
    ],
    [
      "no server at all: never stale",
      { state: { trustKeys: [], enrolled: false }, installed: ["1.0.0"], now: NOW },
      { version: "1.0.0", stale: false },
    ],
    [
      "a recent failed check is not retried yet",
      { state: { ...base, lastCheckFailedAt: NOW - 60_000 }, installed: ["1.0.0"], now: NOW },
      { version: "1.0.0", stale: false },
    ],
    [
      "an old failed check is retried",
      { state: { ...base, lastCheckFailedAt: NOW - 600_000 }, installed: ["1.0.0"], now: NOW },
      { stale: true },
    ],
    [
      "a cache from the future (clock change) is stale",
      {
        state: { ...base, cache: { ...fresh("2.0.0"), fetchedAt: NOW + 3600_000 } },
        installed: [],
        now: NOW,
      },
      { stale: true },
    ],
  ];
  for (const [name, input, want] of cases) test(name, () => expect(chooseVersion(input)).toMatchObject(want));

  test("a bad UPKEEP_TOOLS_VERSION is refused, naming the variable", () => {
    expect(() => chooseVersion({ state: base, envVersion: "latest", installed: [], now: NOW })).toThrow(
      /UPKEEP_TOOLS_VERSION="latest"/,
    );
  });
});

describe("the cache lifetime the server advertises (upkeep.cache_seconds), bounded 10 s..1 h", () => {
  const aged = (ageMs: number, cacheSeconds?: number) => ({
    ...fresh("2.0.0"),
    fetchedAt: NOW - ageMs,
    ...(cacheSeconds === undefined ? {} : { cacheSeconds }),
  });
  const stale = (ageMs: number, cacheSeconds?: number) =>
    chooseVersion({ state: { ...base, cache: aged(ageMs, cacheSeconds) }, installed: [], now: NOW }).stale;

  test("the advertised lifetime decides when the answer is asked for again", () => {
    expect(stale(299_000, 300)).toBe(false);
    expect(stale(301_000, 300)).toBe(true);
  });
  test("a server that says nothing (Teleport, an older upkeep): an hour, as before", () => {
    expect(cacheTtlMs(aged(0))).toBe(3_600_000);
    expect(stale(59 * 60_000)).toBe(false);
    expect(stale(61 * 60_000)).toBe(true);
  });
  test("at least 10 s (a server cannot make every run ask), at most an hour", () => {
    expect(cacheTtlMs(aged(0, 0))).toBe(10_000);
    expect(cacheTtlMs(aged(0, 2))).toBe(10_000);
    expect(stale(5_000, 0)).toBe(false);
    expect(cacheTtlMs(aged(0, 86_400))).toBe(3_600_000);
    expect(stale(2 * 3_600_000, 86_400)).toBe(true);
    expect(cacheTtlMs(aged(0, -5))).toBe(3_600_000);
    expect(cacheTtlMs(aged(0, Number.NaN))).toBe(3_600_000);
  });
  test("tools.json keeps it; a non-number there is a damaged file", () => {
    const doc = { ...base, cache: aged(0, 30) };
    expect(parseToolsState(JSON.stringify(doc), "t.json").cache?.cacheSeconds).toBe(30);
    expect(() =>
      parseToolsState(JSON.stringify({ ...base, cache: { ...aged(0), cacheSeconds: "30" } }), "t.json"),
    ).toThrow(/cache is invalid/);
  });
});

describe("the cached answer belongs to the server that gave it (UPKEEP_SERVER may name another)", () => {
  const A = "https://s"; // base.server: the saved one
  const B = "https://other";
  const cases: [string, ToolsState, string | undefined, Partial<ReturnType<typeof chooseVersion>>][] = [
    [
      "the saved server's answer, asked of the saved server",
      { ...base, cache: { ...fresh("2.0.0"), server: A } },
      A,
      { version: "2.0.0", source: "server", stale: false },
    ],
    [
      "an old file without cache.server: the saved server's",
      { ...base, cache: fresh("2.0.0") },
      A,
      { version: "2.0.0", source: "server", stale: false },
    ],
    [
      "UPKEEP_SERVER=B, cache from the saved A: no answer, stale",
      { ...base, cache: fresh("2.0.0") },
      B,
      { version: "1.0.0", source: "installed", stale: true },
    ],
    [
      "UPKEEP_SERVER=B, B's answer cached: used",
      { ...base, cache: { ...fresh("3.0.0"), server: B } },
      B,
      { version: "3.0.0", source: "server", stale: false },
    ],
    [
      "back on A, B's answer cached: no answer, stale",
      { ...base, cache: { ...fresh("3.0.0"), server: B } },
      A,
      { version: "1.0.0", source: "installed", stale: true },
    ],
    [
      "not enrolled, another server's answer: no out-of-date warning from it",
      { ...base, enrolled: false, cache: { ...fresh("3.0.0"), server: B } },
      A,
      { version: "1.0.0", source: "installed", stale: true },
    ],
  ];
  for (const [name, state, server, want] of cases)
    test(name, () =>
      expect(chooseVersion({ state, server, installed: ["1.0.0"], now: NOW })).toMatchObject(want),
    );

  test("cachedAnswer and the default server", () => {
    const cacheB = { ...fresh("3.0.0"), server: B };
    expect(cachedAnswer({ ...base, cache: cacheB }, B)).toEqual(cacheB);
    expect(cachedAnswer({ ...base, cache: cacheB }, A)).toBeUndefined();
    expect(cachedAnswer({ ...base, cache: fresh("2.0.0") }, undefined)).toBeUndefined();
    const notEnrolled = { ...base, enrolled: false, cache: cacheB };
    expect(chooseVersion({ state: notEnrolled, server: A, installed: ["1.0.0"], now: NOW }).outOfDate).toBe(
      undefined,
    );
    // Without `server`, the saved one is asked.
    expect(chooseVersion({ state: { ...base, cache: cacheB }, installed: [], now: NOW }).stale).toBe(true);
  });

  test("cache.server survives the state file; a bad one is refused", () => {
    const s: ToolsState = { ...base, cache: { ...fresh("2.0.0"), server: B } };
    expect(parseToolsState(JSON.stringify(s), "f")).toEqual(s);
    expect(() => parseToolsState(JSON.stringify({ cache: { ...fresh("2.0.0"), server: 5 } }), "f")).toThrow(
      /cache/,
    );
  });
});

describe("the manifest's floor: a server-named version below it never runs", () => {
  const cases: [string, Parameters<typeof chooseVersion>[0], Partial<ReturnType<typeof chooseVersion>>][] = [
    [
      "at the floor: runs",
      { state: { ...base, floor: "2.0.0", cache: fresh("2.0.0") }, installed: ["2.0.0"], now: NOW },
      { version: "2.0.0", source: "server" },
    ],
    [
      "below the floor, a newer one installed: the newest at or above the floor, flagged",
      {
        state: { ...base, floor: "2.0.0", cache: fresh("1.5.0") },
        installed: ["1.5.0", "2.1.0", "2.0.0", "1.9.0"],
        now: NOW,
      },
      { version: "2.1.0", source: "installed", belowFloor: "1.5.0" },
    ],
    [
      "below the floor, only older ones installed: nothing runs",
      { state: { ...base, floor: "2.0.0", cache: fresh("1.5.0") }, installed: ["1.5.0", "1.9.9"], now: NOW },
      { source: "none", belowFloor: "1.5.0" },
    ],
    [
      "not enrolled, nothing installed, the server's version below the floor: nothing runs",
      { state: { ...base, enrolled: false, floor: "2.0.0", cache: fresh("1.0.0") }, installed: [], now: NOW },
      { source: "none", belowFloor: "1.0.0" },
    ],
    [
      "a pre-release of the floor is below it",
      { state: { ...base, floor: "2.0.0", cache: fresh("2.0.0-rc.1") }, installed: ["2.0.0"], now: NOW },
      { version: "2.0.0", belowFloor: "2.0.0-rc.1" },
    ],
    [
      "no floor recorded: as before",
      { state: { ...base, cache: fresh("1.0.0") }, installed: ["2.0.0"], now: NOW },
      { version: "1.0.0", source: "server" },
    ],
    [
      "a pin below the floor is the user's choice (the installer refuses to install it)",
      { state: { ...base, floor: "2.0.0", pinned: "1.0.0", cache: fresh("2.0.0") }, installed: [], now: NOW },
      { version: "1.0.0", source: "pin" },
    ],
  ];
  for (const [name, input, want] of cases) test(name, () => expect(chooseVersion(input)).toMatchObject(want));
  test("isBelow, and the floor survives the state file", () => {
    expect(isBelow("1.9.9", "2.0.0")).toBe(true);
    expect(isBelow("2.0.0", "2.0.0")).toBe(false);
    expect(isBelow("10.0.0", "9.0.0")).toBe(false);
    const s: ToolsState = { ...base, floor: "2.0.0" };
    expect(parseToolsState(JSON.stringify(s), "f")).toEqual(s);
    expect(() => parseToolsState('{"floor": "latest"}', "f")).toThrow(/floor/);
    expect(
      chooseVersion({ state: { ...base, cache: fresh("2.0.0") }, installed: [], now: NOW }).belowFloor,
    ).toBe(undefined);
  });
});

describe("sameServer: login compares servers as URLs, not as strings", () => {
  test.each([
    ["https://s", "https://s", true],
    ["https://s/", "https://s", true],
    ["https://S", "https://s", true],
    ["HTTPS://s:443", "https://s", true],
    ["https://s/teleport/", "https://s/teleport", true],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080//", true],
    ["https://s", "http://s", false],
    ["https://s:8443", "https://s", false],
    ["https://s/a", "https://s/b", false],
    ["https://s", "https://t", false],
    [undefined, "https://s", false],
    [undefined, undefined, true],
  ] as [string | undefined, string | undefined, boolean][])("%p vs %p -> %p", (a, b, want) => {
    expect(sameServer(a, b)).toBe(want);
    expect(sameServer(b, a)).toBe(want);
  });
});

describe("LRU cleanup keeps at most 3 versions and never the one in use", () => {
  test.each([
    [
      [
        ["1.0.0", 1],
        ["2.0.0", 2],
        ["3.0.0", 3],
      ],
      "3.0.0",
      [],
    ],
    [
      [
        ["1.0.0", 1],
        ["2.0.0", 2],
        ["3.0.0", 3],
        ["4.0.0", 4],
      ],
      "4.0.0",
      ["1.0.0"],
    ],
    [
      [
        ["1.0.0", 9],
        ["2.0.0", 2],
        ["3.0.0", 3],
        ["4.0.0", 1],
        ["5.0.0", 5],
      ],
      "4.0.0",
      ["2.0.0", "3.0.0"],
    ],
  ] as [[string, number][], string, string[]][])("%p in use %p -> remove %p", (used, inUse, want) => {
    expect(versionsToRemove(new Map(used), inUse, 3)).toEqual(want);
  });
});

test("progress bar", () => {
  expect(progressBar(60, 100, 12.4e6)).toBe("Update progress: [▒▒▒▒▒▒    ] 60% 12.4 MB/s (Ctrl-C to cancel)");
  expect(progressBar(0, 0, 0)).toBe("Update progress: [          ] 0% 0.0 MB/s (Ctrl-C to cancel)");
  expect(progressBar(200, 100, 1e6)).toContain("[▒▒▒▒▒▒▒▒▒▒] 100%");
});

function refusal(version: string, at = NOW, sha = "a"): RefusedRelease {
  return {
    version,
    artifact: `hello-v${version}-linux-amd64-bin.tar.gz`,
    sha256: sha.repeat(64).slice(0, 64),
    code: "E_MALFORMED",
    reason: 'the release has a "bin" that is not a folder',
    refusedAt: at,
    checkedAt: at,
  };
}

describe("refused releases: remembered by version and bytes, trusted for an hour", () => {
  const art = (v: string) => `hello-v${v}-linux-amd64-bin.tar.gz`;
  test("found by version and artifact (another platform's artifact is other bytes)", () => {
    const s = withRefusal(base, refusal("1.1.0"));
    expect(findRefusal(s, "1.1.0", art("1.1.0"))?.version).toBe("1.1.0");
    expect(findRefusal(s, "1.1.0", "hello-v1.1.0-linux-arm64-bin.tar.gz")).toBeUndefined();
    expect(findRefusal(s, "1.2.0", art("1.2.0"))).toBeUndefined();
    expect(findRefusal(base, "1.1.0", art("1.1.0"))).toBeUndefined();
  });
  test("fresh for an hour after the manifest last listed the bytes; a clock gone back is not fresh", () => {
    const r = refusal("1.1.0");
    expect(isFreshRefusal(r, NOW)).toBe(true);
    expect(isFreshRefusal(r, NOW + REFUSAL_RECHECK_MS - 1)).toBe(true);
    expect(isFreshRefusal(r, NOW + REFUSAL_RECHECK_MS)).toBe(false);
    expect(isFreshRefusal(r, NOW - 1)).toBe(false);
    const checked = withRefusalChecked(withRefusal(base, r), r, NOW + 2 * REFUSAL_RECHECK_MS);
    expect(isFreshRefusal(checked.refused?.[0] as RefusedRelease, NOW + 2 * REFUSAL_RECHECK_MS)).toBe(true);
    // Checking a refusal no longer on record (pinned meanwhile) does not bring it back.
    expect(withRefusalChecked(base, r, NOW)).toEqual(base);
  });
  test("a new verdict on the same version's artifact replaces the old one (new bytes); the newest are kept", () => {
    let s = withRefusal(base, refusal("1.1.0", NOW, "a"));
    s = withRefusal(s, refusal("1.1.0", NOW + 1, "b"));
    expect(s.refused?.map((r) => r.sha256[0])).toEqual(["b"]);
    for (let i = 0; i < MAX_REFUSED + 5; i++) s = withRefusal(s, refusal(`2.0.${i}`, NOW + 10 + i));
    expect(s.refused).toHaveLength(MAX_REFUSED);
    expect(s.refused?.at(-1)?.version).toBe(`2.0.${MAX_REFUSED + 4}`);
    expect(s.refused?.some((r) => r.version === "1.1.0")).toBe(false);
  });
  test("a long reason is cut", () => {
    const s = withRefusal(base, { ...refusal("1.1.0"), reason: "x".repeat(5000) });
    expect(s.refused?.[0]?.reason.length).toBe(MAX_REASON_CHARS + 3);
  });
  test("forgotten by version (pin), all at once, and when the manifest no longer lists the version", () => {
    const s = withRefusal(withRefusal(base, refusal("1.1.0")), refusal("1.2.0"));
    expect(withoutRefusal(s, "1.1.0").refused?.map((r) => r.version)).toEqual(["1.2.0"]);
    expect(withoutRefusal(withoutRefusal(s, "1.1.0"), "1.2.0")).toEqual(base);
    expect(withoutRefusal(s)).toEqual(base);
    expect(withRefusalsListed(s, ["1.2.0", "1.3.0"]).refused?.map((r) => r.version)).toEqual(["1.2.0"]);
    expect(withRefusalsListed(s, ["1.0.0"])).toEqual(base);
    expect(withRefusalsListed(s, ["1.1.0", "1.2.0"])).toBe(s);
  });
});

describe("state file", () => {
  test("round trip", () => {
    const s: ToolsState = { ...base, pinned: "1.2.3", cache: fresh("2.0.0"), lastSerial: 7 };
    expect(parseToolsState(JSON.stringify(s), "f")).toEqual(s);
  });
  test("round trip with refused releases", () => {
    const s: ToolsState = { ...base, refused: [refusal("1.1.0")] };
    expect(parseToolsState(JSON.stringify(s), "f")).toEqual(s);
  });
  test.each([
    "{",
    "[]",
    '{"trustKeys": "x"}',
    '{"pinned": "latest"}',
    '{"cache": {"toolsVersion": "x"}}',
    '{"server": 5}',
    '{"refused": {}}',
    '{"refused": [null]}',
    `{"refused": [${JSON.stringify({ ...refusal("1.1.0"), sha256: "xyz" })}]}`,
    `{"refused": [${JSON.stringify({ ...refusal("1.1.0"), version: "latest" })}]}`,
    `{"refused": [${JSON.stringify({ ...refusal("1.1.0"), checkedAt: "now" })}]}`,
    `{"refused": [${JSON.stringify({ ...refusal("1.1.0"), code: "\u001b[31m" })}]}`,
  ])("damaged %p is refused naming the file", (text) => {
    let err: unknown;
    try {
      parseToolsState(text, "/home/u/.upkeep/tools/tools.json");
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toContain("/home/u/.upkeep/tools/tools.json");
    // The hint names the file and says login moves it aside (login itself never refuses it).
    expect((err as { hint?: string }).hint).toContain("/home/u/.upkeep/tools/tools.json");
    expect((err as { hint?: string }).hint).toContain("moves the damaged file aside");
  });
});

describe("effectiveServer: the environment beats the saved server", () => {
  test.each([
    [{ server: "https://saved" }, {}, "https://saved"],
    [{ server: "https://saved" }, { UPKEEP_SERVER: "https://env/" }, "https://env"],
    [{}, { UPKEEP_SERVER: "https://env" }, "https://env"],
    [{}, { UPKEEP_SERVER: "  " }, undefined],
  ] as [Partial<ToolsState>, Record<string, string>, string | undefined][])("%p %p -> %p", (s, env, want) => {
    expect(effectiveServer({ trustKeys: [], enrolled: true, ...s }, env)).toBe(want);
  });
});

test("the installed list is read only when the choice depends on it", () => {
  let calls = 0;
  const installed = () => {
    calls++;
    return ["1.0.0"];
  };
  chooseVersion({ state: { ...base, pinned: "2.0.0" }, installed, now: NOW });
  chooseVersion({ state: base, envVersion: "3.0.0", installed, now: NOW });
  chooseVersion({ state: { ...base, cache: fresh("2.0.0") }, installed, now: NOW });
  expect(calls).toBe(0);
  expect(chooseVersion({ state: base, envVersion: "off", installed, now: NOW }).version).toBe("1.0.0");
  expect(chooseVersion({ state: { ...base, enrolled: false }, installed, now: NOW }).version).toBe("1.0.0");
  expect(calls).toBe(2);
});

describe("isToolName: one safe path segment", () => {
  const RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
  test.each(["tsh", "hello", "tctl", "a", "k8s-tool_v2.1", "x".repeat(64)])("%p is a tool name", (n) => {
    expect(isToolName(n)).toBe(true);
  });
  test.each(["", ".", "..", ".hidden", "-x", "_x", "a/b", "../tsh", "a b", "x".repeat(65), "tsh\n", "ü"])(
    "%p is refused",
    (n) => {
      expect(isToolName(n)).toBe(false);
    },
  );
  test("the loop and the regular expression agree on any string", () => {
    const chars = fc.constantFrom(..."aZ09._-/ \u00e9\n.".split(""));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(chars, { maxLength: 70 }).map((a) => a.join("")),
        ),
        (s) => {
          expect(isToolName(s)).toBe(RULE.test(s));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

test("state file: every field survives a round trip (the hot-path parser builds the object by hand)", () => {
  const s: ToolsState = {
    server: "https://s",
    product: "hello",
    baseUrl: "https://cdn/artifacts",
    trustKeys: ["RWQ1", "RWQ2"],
    enrolled: true,
    pinned: "1.2.3",
    cache: fresh("2.0.0", false),
    lastSerial: 7,
    lastCheckFailedAt: NOW - 5,
    insecure: true,
  };
  expect(parseToolsState(JSON.stringify(s), "f")).toEqual(s);
  expect(() => parseToolsState('{"trustKeys": ["a", 5]}', "f")).toThrow(/trustKeys/);
  expect(parseToolsState("{}", "f")).toEqual({ trustKeys: [], enrolled: false });
});

describe("shouldForward: a Ctrl-C reaches the tool once", () => {
  test.each([
    ["SIGTERM", true, true],
    ["SIGTERM", false, true],
    ["SIGTERM", undefined, true],
    ["SIGINT", true, false], // the terminal sent it to the tool's process group already
    ["SIGHUP", true, false],
    ["SIGINT", false, true], // background job, or no terminal: `kill -INT` to the shim
    ["SIGHUP", false, true],
    ["SIGINT", undefined, true], // cannot tell: pass it on
  ] as const)("%s, foreground %p -> forward %p", (sig, fg, want) => {
    expect(shouldForward(sig, fg)).toBe(want);
  });
});

describe("outOfDateMessage: advice that changes what runs", () => {
  const base = { tool: "hello", enrolled: false, autoUpdate: true };
  test.each([
    [
      { running: "1.0.0", cluster: "1.1.0" },
      ["is out of date", "cluster runs v1.1.0", "upkeep tools login", "pin 1.1.0"],
    ],
    [{ running: "1.3.0", cluster: "1.1.0" }, ["(v1.3.0) is newer than the cluster's (v1.1.0)", "pin 1.1.0"]],
    [
      { running: "1.3.0", cluster: "1.1.0", enrolled: true, autoUpdate: false },
      ["newer than", "turned off automatic client tools updates", "pin 1.1.0"],
    ],
    [
      { running: "1.0.0", cluster: "1.1.0", enrolled: true, autoUpdate: false },
      ["out of date", "turned off automatic client tools updates"],
    ],
    [
      { running: "1.0.0", cluster: "1.1.0", enrolled: false, autoUpdate: false },
      ["out of date", "turned off automatic client tools updates", "pin 1.1.0"],
    ],
  ] as [Partial<Parameters<typeof outOfDateMessage>[0]>, string[]][])("%p", (input, parts) => {
    const m = outOfDateMessage({ ...base, running: "", cluster: "", ...input });
    for (const p of parts) expect(m).toContain(p);
    if (input.running === "1.3.0") expect(m).not.toContain("out of date");
    if (input.enrolled || input.autoUpdate === false) expect(m).not.toContain("to enroll");
  });
});
