/** The find body: what the server builds is what the agent and client tools read; what they refuse. */
import { describe, expect, test } from "bun:test";
import type { AgentDecision, ToolsDecision } from "../rollout/types.ts";
import {
  artifactTemplate,
  type FindAnswer,
  type FindParse,
  type FindVerdict,
  findBody,
  minClientVersion,
  parseFind,
  parseFindAnswer,
  type ServerInfo,
} from "./mod.ts";

const INFO: ServerInfo = {
  product: "hello",
  clusterName: "c",
  edition: "oss",
  fips: false,
  jitterSeconds: 60,
};

const AGENT: AgentDecision = {
  agent_version: "17.0.1",
  agent_auto_update: true,
  reason: "group prod is active: update to the target",
  group: "prod",
  group_state: "active",
  capped: false,
  adjusted: null,
  mode: "enabled",
  canary: false,
};
const TOOLS: ToolsDecision = {
  tools_version: "17.0.1",
  tools_auto_update: true,
  reason: "tools target",
  adjusted: null,
};
const CAP = { kind: "capped" as const, from: "18.0.0", to: "17.0.1", why: "capped at the server version" };

const roundTrip = (info: ServerInfo, server: string | undefined, v: FindVerdict): FindParse =>
  parseFind(JSON.parse(JSON.stringify(findBody(info, server, v))));

/** The agent's part of the first case below; the others say how theirs differs. */
const UPDATE: FindAnswer = {
  ...{ serverVersion: "17.0.1", jitterSeconds: 60, edition: "oss", fips: false, groupState: "active" },
  ...{ agentVersion: "17.0.1", autoUpdate: true, artifact: "hello-v17.0.1-{os}-{arch}-bin.tar.gz" },
  ...{ critical: true, reason: "group prod is active: update to the target", adjusted: "" },
};
const NOTHING = { agentVersion: "", autoUpdate: false, artifact: "", critical: false };
const ERROR = { ...NOTHING, groupState: "", reason: "internal error: do not update" };

describe("findBody -> parseFind round trip", () => {
  const cases: [string, ServerInfo, string | undefined, FindVerdict, FindParse][] = [
    [
      "an update, critical",
      INFO,
      "17.0.1",
      { agent: AGENT, tools: TOOLS, critical: true },
      { agent: UPDATE, tools: { toolsVersion: "17.0.1", toolsAutoUpdate: true, cacheSeconds: 300 } },
    ],
    [
      "capped, ent and FIPS, the server's cache seconds",
      { ...INFO, edition: "ent", fips: true, toolsCacheSeconds: 30 },
      "17.0.1",
      {
        agent: { ...AGENT, capped: true, adjusted: CAP },
        tools: { ...TOOLS, tools_auto_update: false },
        critical: false,
      },
      {
        agent: {
          ...UPDATE,
          ...{ edition: "ent", fips: true, artifact: "hello-ent-v17.0.1-{os}-{arch}-fips-bin.tar.gz" },
          ...{ critical: false, adjusted: "capped at the server version" },
        },
        tools: { toolsVersion: "17.0.1", toolsAutoUpdate: false, cacheSeconds: 30 },
      },
    ],
    [
      "community: the agent installs the oss builds",
      { ...INFO, edition: "community" },
      "17.0.1",
      { agent: AGENT, tools: TOOLS, critical: true },
      { agent: UPDATE, tools: { toolsVersion: "17.0.1", toolsAutoUpdate: true, cacheSeconds: 300 } },
    ],
    [
      "no version policy and no server version: no version for either, and why",
      INFO,
      undefined,
      {
        agent: { ...AGENT, agent_version: "", agent_auto_update: false, reason: "no version policy yet" },
        tools: { ...TOOLS, tools_version: "", tools_auto_update: false, reason: "no tools version yet" },
        critical: true,
      },
      {
        agent: { ...UPDATE, ...NOTHING, serverVersion: "", reason: "no version policy yet" },
        tools: { noVersion: true, why: "no tools version yet" },
      },
    ],
    [
      "an internal error: the server version, no update",
      INFO,
      "17.0.1",
      { error: true, group: "prod" },
      {
        agent: { ...UPDATE, ...ERROR, agentVersion: "17.0.1" },
        tools: { toolsVersion: "17.0.1", toolsAutoUpdate: false, cacheSeconds: 300 },
      },
    ],
    [
      "an internal error without a server version: no version for either",
      INFO,
      undefined,
      { error: true, group: "prod" },
      {
        agent: { ...UPDATE, ...ERROR, serverVersion: "" },
        tools: { noVersion: true, why: "internal error: do not update" },
      },
    ],
  ];
  for (const [name, info, server, verdict, want] of cases) {
    test(name, () => expect(roundTrip(info, server, verdict)).toEqual(want));
  }

  test("Teleport's field names and order (PingResponse), then upkeep's, with min_client_version one major below", () => {
    const body = findBody(INFO, "17.2.3", { agent: AGENT, tools: TOOLS, critical: false });
    const error = findBody(INFO, "17.2.3", { error: true, group: "prod" });
    const teleport = [
      "auth",
      "proxy",
      "server_version",
      "min_client_version",
      "auto_update",
      "cluster_name",
      "automatic_upgrades",
      "edition",
      "fips",
    ];
    expect(Object.keys(body)).toEqual([...teleport, "upkeep"]);
    expect(Object.keys(error)).toEqual([...teleport, "upkeep"]);
    expect(body.min_client_version).toBe("16.0.0-aa");
    expect(body.automatic_upgrades).toBe(true);
    expect(JSON.stringify([body.auth, body.proxy])).toBe(
      '[{"type":"local","second_factor":"off","private_key_policy":"none","piv_slot":"","piv_pin_cache_duration":0,' +
        '"device_trust":{"disabled":true},"has_motd":false,"default_session_ttl":"0s"},' +
        '{"kube":{},"ssh":{},"db":{},"tls_routing_enabled":false}]',
    );
    expect(JSON.stringify([error.auth, error.proxy])).toBe(JSON.stringify([body.auth, body.proxy]));
    expect(Object.keys(body.auto_update)).toEqual([
      "tools_version",
      "tools_auto_update",
      "agent_version",
      "agent_auto_update",
      "agent_update_jitter_seconds",
    ]);
  });
});

describe("parseFind refuses what it cannot use, each part on its own", () => {
  const agentOk = { agent_version: "1.0.0", agent_auto_update: true };
  const cases: [string, unknown, string | RegExp, string | RegExp | object][] = [
    ["null", null, "the answer is not a JSON object", "the answer is not a JSON object"],
    ["an array", [], "the answer is not a JSON object", "the answer is not a JSON object"],
    [
      "no auto_update",
      { upkeep: {} },
      "auto_update is missing",
      "auto_update.tools_version is missing or not a version",
    ],
    [
      "agent_auto_update not a boolean; tools fine",
      { auto_update: { agent_version: "1.0.0", agent_auto_update: "yes", tools_version: "1.0.0" } },
      "auto_update.agent_auto_update is not a boolean",
      { toolsVersion: "1.0.0", toolsAutoUpdate: false },
    ],
    [
      "agent_version not a version",
      { auto_update: { agent_version: "x", agent_auto_update: true } },
      "auto_update.agent_version is not a version",
      "auto_update.tools_version is missing or not a version",
    ],
    [
      "no agent version but an update",
      { auto_update: { agent_version: "", agent_auto_update: true } },
      "auto_update.agent_version is not a version",
      "auto_update.tools_version is missing or not a version",
    ],
    [
      "tools_version not a version; agent fine",
      { auto_update: { ...agentOk, tools_version: "latest", tools_auto_update: true } },
      /^\{/,
      "auto_update.tools_version is missing or not a version",
    ],
    [
      "no tools version, update on: malformed",
      { auto_update: { ...agentOk, tools_version: "", tools_auto_update: true } },
      /^\{/,
      "auto_update.tools_version is missing or not a version",
    ],
    [
      "no tools version: the general reason when there is no tools reason",
      { auto_update: { ...agentOk, tools_version: "" }, upkeep: { reason: "why not" } },
      /^\{/,
      { noVersion: true, why: "why not" },
    ],
    [
      "no tools version and no reason at all (a Teleport proxy)",
      { auto_update: { ...agentOk, tools_version: "" } },
      /^\{/,
      { noVersion: true },
    ],
    [
      "cache_seconds that is no number of seconds is no advice",
      { auto_update: { ...agentOk, tools_version: "v2.0.0" }, upkeep: { cache_seconds: -1 } },
      /^\{/,
      { toolsVersion: "2.0.0", toolsAutoUpdate: false },
    ],
  ];
  for (const [name, doc, agent, tools] of cases) {
    test(name, () => {
      const p = parseFind(doc);
      if (typeof agent === "string") expect(p.agent).toBe(agent);
      else expect(JSON.stringify(p.agent)).toMatch(agent);
      if (typeof tools === "string") expect(p.tools).toBe(tools);
      else if (tools instanceof RegExp) expect(JSON.stringify(p.tools)).toMatch(tools);
      else expect(p.tools).toEqual(tools as never);
      expect(parseFindAnswer(doc)).toEqual(p.agent);
    });
  }

  test("the agent's jitter is bounded to 0..86400 whole seconds", () => {
    const jitter = (j: unknown) => {
      const a = parseFindAnswer({ auto_update: { ...agentOk, agent_update_jitter_seconds: j } });
      return typeof a === "string" ? a : a.jitterSeconds;
    };
    expect([jitter(-5), jitter(12.7), jitter(1e9), jitter("60"), jitter(Number.NaN)]).toEqual([
      0, 12, 86_400, 0, 0,
    ]);
  });
});

describe("the artifact template and the oldest client", () => {
  test.each([
    [{ product: "hello", edition: "oss", fips: false }, "1.2.3", "hello-v1.2.3-{os}-{arch}-bin.tar.gz"],
    // Teleport Community Edition installs the builds named like oss ones (teleport-v...).
    [
      { product: "teleport", edition: "community", fips: false },
      "1.2.3",
      "teleport-v1.2.3-{os}-{arch}-bin.tar.gz",
    ],
    [
      { product: "teleport", edition: "ent", fips: false },
      "1.2.3",
      "teleport-ent-v1.2.3-{os}-{arch}-bin.tar.gz",
    ],
    [
      { product: "my-app", edition: "ent", fips: true },
      "1.2.3",
      "my-app-ent-v1.2.3-{os}-{arch}-fips-bin.tar.gz",
    ],
    [
      { product: "hello", edition: "oss", fips: false },
      "1.0.0-os-arch.1",
      "hello-v1.0.0-os-arch.1-{os}-{arch}-bin.tar.gz",
    ],
  ] as const)("%o %s", (info, version, want) => expect(artifactTemplate(info, version)).toBe(want));

  test("an unusable version is refused, never a wrong name", () => {
    expect(() => artifactTemplate(INFO, "not-a-version")).toThrow("invalid version");
  });

  // Teleport's rule (MinClientSemVersion): major-1 with the pre-release `aa`, so that major's pre-releases pass.
  test.each([
    ["17.2.3", "16.0.0-aa"],
    ["18.0.0-rc.1", "17.0.0-aa"],
    ["1.0.0", "0.0.0-aa"],
    ["0.4.0", "0.0.0-aa"],
  ])("min_client_version of %s is %s", (server, want) => expect(minClientVersion(server)).toBe(want));
});

describe("upkeep.updater_version: the updater version the server wants (DESIGN §9)", () => {
  const update = { agent: AGENT, tools: TOOLS, critical: false };
  test("named by the server, read back canonical; the internal-error answer names none", () => {
    const body = findBody(INFO, "17.0.1", update, "0.2.0");
    expect(body.upkeep.updater_version).toBe("0.2.0");
    expect(parseFind(JSON.parse(JSON.stringify(body))).updaterVersion).toBe("0.2.0");
    const error = findBody(INFO, "17.0.1", { error: true, group: "prod" });
    expect(error.upkeep.updater_version).toBe("");
    expect(parseFind(JSON.parse(JSON.stringify(error))).updaterVersion).toBeUndefined();
  });

  test.each([
    ["empty: do not self-update", ""],
    ["an older server (no field)", undefined],
    ["not a version", "latest"],
    ["not a string", 2],
  ])("%s: no updater version", (_name, value) => {
    const body = JSON.parse(JSON.stringify(findBody(INFO, "17.0.1", update)));
    if (value === undefined) delete body.upkeep.updater_version;
    else body.upkeep.updater_version = value;
    const parsed = parseFind(body);
    expect(parsed.updaterVersion).toBeUndefined();
    expect(typeof parsed.agent).toBe("object"); // the product's part is read as before
  });

  test("the default is empty, and the field comes after cache_seconds (goldens only gain it)", () => {
    const body = findBody(INFO, "17.0.1", update);
    expect(body.upkeep.updater_version).toBe("");
    const keys = Object.keys(body.upkeep);
    expect(keys.indexOf("updater_version")).toBe(keys.indexOf("cache_seconds") + 1);
  });
});
