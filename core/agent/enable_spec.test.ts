/** `agent enable` settings: the flags given over the stored spec; what changed. */
import { describe, expect, test } from "bun:test";
import { isUpkeepError } from "../errors.ts";
import { changedSettings, type EnableDefaults, mergeEnableFlags } from "./enable_spec.ts";
import { emptyStatus, formatState, parseState } from "./state_file.ts";
import type { AgentSpec } from "./types.ts";

const DEFAULTS: EnableDefaults = {
  binDir: "/usr/local/bin",
  service: "supervise",
  systemdDir: "/etc/systemd/system",
};

const STORED: AgentSpec = {
  server: "https://upkeep.example.com",
  product: "hello",
  group: "canary",
  baseUrl: "https://cdn.example.com/hello",
  trustKeys: ["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"],
  token: "agent-token",
  insecure: false,
  edition: "oss",
  fips: false,
  service: "systemd",
  daemon: "hellod",
  daemonArgs: ["serve", "--port", "3080"],
  healthUrl: "",
  healthCmd: "helloctl health",
  healthWaitMs: 30_000,
  healthTimeoutMs: 2_000,
  binDir: "/opt/bin",
  systemdDir: "/etc/systemd/system",
  interval: "1m",
  enabled: false,
  pinned: false,
  updaterId: "11111111-2222-4333-8444-555555555555",
};

describe("mergeEnableFlags", () => {
  test("existing namespace, no flag: every stored setting is kept", () => {
    const s = mergeEnableFlags(STORED, {}, DEFAULTS);
    expect(s).toEqual({
      server: STORED.server,
      product: "hello",
      baseUrl: STORED.baseUrl,
      trustKeys: STORED.trustKeys,
      group: "canary",
      token: "agent-token",
      binDir: "/opt/bin",
      service: "systemd",
      daemon: "hellod",
      daemonArgs: ["serve", "--port", "3080"],
      healthUrl: "",
      healthCmd: "helloctl health",
      healthWaitMs: 30_000,
      healthTimeoutMs: 2_000,
      insecure: false,
      systemdDir: "/etc/systemd/system",
      interval: "1m",
      selfUpdate: true,
      selfTrustKeys: [],
    });
  });
  test("self-update: on by default, --no-self-update stored, kept by a bare enable, --self-update back on", () => {
    const first = { server: "https://s", product: "hello", baseUrl: "https://b", trustKeys: ["k.pub"] };
    expect(mergeEnableFlags(undefined, first, DEFAULTS).selfUpdate).toBe(true);
    const off = mergeEnableFlags(STORED, { selfUpdate: false }, DEFAULTS);
    expect(off.selfUpdate).toBe(false);
    expect(mergeEnableFlags({ ...STORED, selfUpdate: false }, {}, DEFAULTS).selfUpdate).toBe(false);
    expect(
      mergeEnableFlags({ ...STORED, selfUpdate: false }, { selfUpdate: true }, DEFAULTS).selfUpdate,
    ).toBe(true);
    expect(changedSettings(STORED, { ...STORED, selfUpdate: false })).toEqual([
      "self-update (true -> false)",
    ]);
  });
  test("existing namespace: a flag given replaces its stored value only", () => {
    const s = mergeEnableFlags(STORED, { group: "prod", daemonArgs: [], interval: "30s" }, DEFAULTS);
    expect(s).toMatchObject({ group: "prod", daemonArgs: [], interval: "30s", token: "agent-token" });
  });
  test("a probe given replaces the stored one of the other kind", () => {
    const s = mergeEnableFlags(STORED, { healthUrl: "http://127.0.0.1:1/ready" }, DEFAULTS);
    expect(s).toMatchObject({ healthUrl: "http://127.0.0.1:1/ready", healthCmd: "" });
    expect(() => mergeEnableFlags(STORED, { healthUrl: "http://x/", healthCmd: "true" }, DEFAULTS)).toThrow(
      "exclude each other",
    );
  });
  test("first enable: defaults; the required flags are named (exit 2)", () => {
    const s = mergeEnableFlags(
      undefined,
      { server: "https://s", product: "hello", baseUrl: "https://b", trustKeys: ["k.pub"] },
      DEFAULTS,
    );
    expect(s).toMatchObject({
      group: "",
      token: "",
      binDir: "/usr/local/bin",
      service: "supervise",
      daemon: "hello",
      daemonArgs: [],
      healthWaitMs: 10_000,
      healthTimeoutMs: 5_000,
      interval: "5m",
    });
    try {
      mergeEnableFlags(undefined, { product: "hello" }, DEFAULTS, "/opt/upkeep/default");
      throw new Error("not refused");
    } catch (e) {
      expect(isUpkeepError(e) && e.exitCode).toBe(2);
      expect((e as Error).message).toContain("/opt/upkeep/default");
      expect((e as Error).message).toContain("--server <url>, --base-url <url>, --trust-key <pubfile>");
      expect((e as Error).message).not.toContain("--product");
    }
  });
});

describe("changedSettings", () => {
  test("names the flags that changed; secrets are not shown", () => {
    const after = { ...STORED, group: "prod", token: "other", interval: "5m", healthWaitMs: 10_000 };
    expect(changedSettings(STORED, after)).toEqual([
      "group (canary -> prod)",
      "token (set -> set)",
      "health-wait (30000ms -> 10000ms)",
      "interval (1m -> 5m)",
    ]);
    expect(changedSettings(STORED, { ...STORED, enabled: true, edition: "ent" })).toEqual([]);
  });
});

describe("update.yaml interval", () => {
  test("round-trips; a file without it reads as 5m; a bad one is named", () => {
    const st = { spec: STORED, status: emptyStatus() };
    expect(parseState(formatState(st)).spec.interval).toBe("1m");
    const old = formatState(st).replace(/^ {2}interval: .*\n/m, "");
    expect(old).not.toContain("interval");
    expect(parseState(old).spec.interval).toBe("5m");
    expect(() => parseState(formatState({ ...st, spec: { ...STORED, interval: "soon" } }))).toThrow(
      "spec.interval",
    );
  });
});
