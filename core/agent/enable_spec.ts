/**
 * `agent enable` settings: the flags given on the command line over what update.yaml already stores. Pure.
 *
 * - First enable (no update.yaml): --server, --product, --base-url and --trust-key are required; every other
 *   setting takes its default.
 * - Enable on an existing namespace (e.g. after `agent disable`): every flag not given keeps its stored
 *   value, so a bare `agent enable` just re-enables; a flag given replaces the stored value.
 */
import { UsageError } from "../errors.ts";
import { DEFAULT_INTERVAL } from "./state_file.ts";
import type { AgentSpec, ServiceKind } from "./types.ts";

/** What the operator passed (undefined: not given). */
export interface EnableFlags {
  server?: string;
  product?: string;
  baseUrl?: string;
  /** Key files or `RW...` keys (stored keys are `RW...` keys, accepted as they are). */
  trustKeys?: string[];
  group?: string;
  token?: string;
  binDir?: string;
  service?: ServiceKind;
  daemon?: string;
  daemonArgs?: string[];
  healthUrl?: string;
  healthCmd?: string;
  healthWaitMs?: number;
  healthTimeoutMs?: number;
  insecure?: boolean;
  systemdDir?: string;
  interval?: string;
  /** `--self-update` / `--no-self-update`. */
  selfUpdate?: boolean;
  /** `--self-trust-key`: key files or `RW...` keys. */
  selfTrustKeys?: string[];
}

export type EnableSettings = Required<EnableFlags>;

/** Defaults of a first enable that depend on the host. */
export interface EnableDefaults {
  binDir: string;
  service: ServiceKind;
  systemdDir: string;
}

export const DEFAULT_HEALTH_WAIT_MS = 10_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;

const REQUIRED_FIRST: [keyof EnableFlags, string][] = [
  ["server", "--server <url>"],
  ["product", "--product <name>"],
  ["baseUrl", "--base-url <url>"],
  ["trustKeys", "--trust-key <pubfile>"],
];

/**
 * The settings enable works with. `previous` is the stored spec (undefined on a first enable); `where` names
 * the namespace folder for the message of a first enable that lacks a required flag (UsageError, exit 2).
 */
export function mergeEnableFlags(
  previous: AgentSpec | undefined,
  flags: EnableFlags,
  defaults: EnableDefaults,
  where = "this namespace",
): EnableSettings {
  if (flags.healthUrl !== undefined && flags.healthCmd !== undefined)
    throw new UsageError("--health-url and --health-cmd exclude each other: pick one");
  if (!previous) {
    const missing = REQUIRED_FIRST.filter(([k]) => {
      const v = flags[k];
      return v === undefined || (Array.isArray(v) && v.length === 0);
    }).map(([, flag]) => flag);
    if (missing.length > 0)
      throw new UsageError(
        `the first \`agent enable\` of ${where} needs ${missing.join(", ")} (not given: ${missing.map((m) => m.split(" ")[0]).join(", ")})`,
        {
          hint: "an existing namespace keeps its stored settings: check --install-dir / --namespace",
        },
      );
  }
  const p = previous;
  // A probe given replaces the stored one, whichever kind it was.
  const probeGiven = flags.healthUrl !== undefined || flags.healthCmd !== undefined;
  const product = flags.product ?? p?.product ?? "";
  const service = flags.service ?? p?.service ?? defaults.service;
  return {
    server: flags.server ?? p?.server ?? "",
    product,
    baseUrl: flags.baseUrl ?? p?.baseUrl ?? "",
    trustKeys: flags.trustKeys?.length ? flags.trustKeys : (p?.trustKeys ?? []),
    group: flags.group ?? p?.group ?? "",
    token: flags.token ?? p?.token ?? "",
    binDir: flags.binDir ?? p?.binDir ?? defaults.binDir,
    service,
    daemon: flags.daemon ?? p?.daemon ?? product,
    daemonArgs: flags.daemonArgs ?? p?.daemonArgs ?? [],
    healthUrl: probeGiven ? (flags.healthUrl ?? "") : (p?.healthUrl ?? ""),
    healthCmd: probeGiven ? (flags.healthCmd ?? "") : (p?.healthCmd ?? ""),
    healthWaitMs: flags.healthWaitMs ?? p?.healthWaitMs ?? DEFAULT_HEALTH_WAIT_MS,
    healthTimeoutMs: flags.healthTimeoutMs ?? p?.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    insecure: flags.insecure ?? p?.insecure ?? false,
    systemdDir: flags.systemdDir ?? (p?.systemdDir || defaults.systemdDir),
    interval: flags.interval ?? p?.interval ?? DEFAULT_INTERVAL,
    selfUpdate: flags.selfUpdate ?? p?.selfUpdate ?? true,
    selfTrustKeys: flags.selfTrustKeys?.length ? flags.selfTrustKeys : (p?.selfTrustKeys ?? []),
  };
}

/** The operator's settings that differ between two specs, by flag name (values of secrets not shown). */
export function changedSettings(before: AgentSpec, after: AgentSpec): string[] {
  const fields: [keyof AgentSpec, string][] = [
    ["server", "server"],
    ["product", "product"],
    ["baseUrl", "base-url"],
    ["trustKeys", "trust-key"],
    ["group", "group"],
    ["token", "token"],
    ["binDir", "bin-dir"],
    ["service", "service"],
    ["daemon", "daemon"],
    ["daemonArgs", "daemon-arg"],
    ["healthUrl", "health-url"],
    ["healthCmd", "health-cmd"],
    ["healthWaitMs", "health-wait"],
    ["healthTimeoutMs", "health-timeout"],
    ["insecure", "insecure"],
    ["systemdDir", "systemd-dir"],
    ["interval", "interval"],
    ["selfUpdate", "self-update"],
    ["selfTrustKeys", "self-trust-key"],
  ];
  const out: string[] = [];
  for (const [k, flag] of fields) {
    const a = before[k] ?? (k === "selfUpdate" ? true : k === "selfTrustKeys" ? [] : undefined);
    const b = after[k] ?? (k === "selfUpdate" ? true : k === "selfTrustKeys" ? [] : undefined);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (k === "token") out.push(`token (${a ? "set" : "none"} -> ${b ? "set" : "none"})`);
    else if (k === "trustKeys" || k === "selfTrustKeys")
      out.push(`${flag} (${(b as string[]).length} key(s))`);
    else if (typeof a === "number") out.push(`${flag} (${a}ms -> ${b}ms)`);
    else out.push(`${flag} (${show(a)} -> ${show(b)})`);
  }
  return out;
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(" ") : "none";
  if (v === "") return "none";
  return String(v);
}
