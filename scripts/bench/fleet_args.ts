/**
 * The options of the fleet simulator (scripts/bench/fleet.ts), checked and turned into numbers, and the rates
 * and measuring windows they give.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const FIND_PERIOD_S = 60;
export const REPORT_PERIOD_S = 300;
export const ROOT = resolve(import.meta.dir, "../..");

/** A bad option: fleet.ts prints `fleet: MESSAGE` and exits 2. */
export class FleetUsageError extends Error {}

export interface FleetArgs {
  /** N, the fleet. */
  agents: number;
  /** The group names g1..gG. */
  groups: string[];
  /** X: simulated seconds per wall second. */
  compress: number;
  minDurationS: number;
  refAgents: number;
  /** --window (0: the default). */
  window: number;
  failRatio: number;
  /** Index of the group whose canaries fail in rollout B; -1: none. */
  haltGroup: number;
  canaries: number;
  jitter: number;
  sweepWindowS: number;
  /** Agents per page when the simulator reads `GET /v1/agents` (the server's most: 1,000). */
  pageSize: number;
  updateSeconds: [number, number];
  noStorm: boolean;
  noRestart: boolean;
  noRollout: boolean;
  sweep: boolean;
  genCheck: boolean;
  noPin: boolean;
  /** Where serve keeps its state: its SQLite data dir, or a throwaway PostgreSQL (fleet_pg.ts). */
  store: "sqlite" | "pg";
  /** Serve processes on the one store (more than one: PostgreSQL only). */
  replicas: number;
  /** The command that runs upkeep. */
  command: string[];
  serveArgs: string[];
  json: string | undefined;
  keep: boolean;
}

const OPTIONS = {
  agents: { type: "string", default: "1000" },
  groups: { type: "string", default: "3" },
  duration: { type: "string", default: "0" },
  compress: { type: "string", default: "1" },
  "ref-agents": { type: "string", default: "1000" },
  window: { type: "string", default: "0" },
  "fail-ratio": { type: "string", default: "0.02" },
  "halt-group": { type: "string" },
  canaries: { type: "string", default: "5" },
  "update-seconds": { type: "string", default: "5-15" },
  jitter: { type: "string", default: "0" },
  "no-storm": { type: "boolean", default: false },
  "no-restart": { type: "boolean", default: false },
  "no-rollout": { type: "boolean", default: false },
  sweep: { type: "boolean", default: false },
  "sweep-window": { type: "string", default: "30" },
  "gen-check": { type: "boolean", default: false },
  "page-size": { type: "string", default: "1000" },
  "no-pin": { type: "boolean", default: false },
  store: { type: "string", default: "sqlite" },
  replicas: { type: "string", default: "1" },
  upkeep: { type: "string" },
  "serve-arg": { type: "string", multiple: true, default: [] as string[] },
  json: { type: "string" },
  keep: { type: "boolean", default: false },
} as const;

const num = (name: string, text: string | undefined, min: number, max = Number.POSITIVE_INFINITY): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new FleetUsageError(`--${name} ${text}: must be a number ${min}..${max}`);
  return n;
};

/** The options of `args` (the command line after the script); throws FleetUsageError on a bad one. */
export function parseFleetArgs(args: string[]): FleetArgs {
  const { values: v } = parseArgs({ args, options: OPTIONS });
  const agents = Math.floor(num("agents", v.agents, 1, 2_000_000));
  const G = Math.floor(num("groups", v.groups, 1, 20));
  const a = {
    agents,
    groups: Array.from({ length: G }, (_, i) => `g${i + 1}`),
    compress: num("compress", v.compress, 0.01, 10_000),
    minDurationS: num("duration", v.duration, 0),
    refAgents: Math.floor(num("ref-agents", v["ref-agents"], 0, 2_000_000)),
    window: num("window", v.window, 0),
    failRatio: num("fail-ratio", v["fail-ratio"], 0, 0.5),
    haltGroup: Math.floor(num("halt-group", v["halt-group"] ?? String(Math.min(2, G)), 0, G)) - 1,
    canaries: Math.floor(num("canaries", v.canaries, 0, 5)),
    jitter: Math.floor(num("jitter", v.jitter, 0, 86_400)),
    sweepWindowS: num("sweep-window", v["sweep-window"], 1),
    pageSize: Math.floor(num("page-size", v["page-size"], 1, 1000)),
  };
  const upd = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v["update-seconds"] ?? "");
  if (!upd || Number(upd[1]) > Number(upd[2]))
    throw new FleetUsageError("--update-seconds: MIN-MAX seconds, e.g. 5-15");
  const store = v.store;
  if (store !== "sqlite" && store !== "pg")
    throw new FleetUsageError(`--store ${store}: sqlite (serve's data dir, the default) or pg (PostgreSQL)`);
  const replicas = Math.floor(num("replicas", v.replicas, 1, 16));
  if (replicas > 1 && store !== "pg")
    throw new FleetUsageError(
      `--replicas ${replicas} needs --store pg: on SQLite one serve owns its data dir (serve.lock)`,
    );
  const command = v.upkeep ? v.upkeep.trim().split(/\s+/) : [join(ROOT, "dist/upkeep")];
  const c = command[0] as string;
  if (c.includes("/") ? !existsSync(c) : !Bun.which(c))
    throw new FleetUsageError(`${c} not found: run \`npm run build\` first (or pass --upkeep PATH)`);
  return {
    ...a,
    updateSeconds: [Number(upd[1]), Number(upd[2])],
    noStorm: v["no-storm"],
    noRestart: v["no-restart"],
    noRollout: v["no-rollout"],
    sweep: v.sweep,
    genCheck: v["gen-check"],
    noPin: v["no-pin"],
    store,
    replicas,
    command,
    serveArgs: v["serve-arg"] ?? [],
    json: v.json,
    keep: v.keep,
  };
}

/** Finds and reports per second of `n` agents (at the run's compression). */
export const rates = (a: FleetArgs, n: number) => ({
  find: (n * a.compress) / FIND_PERIOD_S,
  report: (n * a.compress) / REPORT_PERIOD_S,
});

/** The CPU-per-request windows: long enough for about 2,000 reports, 10..60 s (or --window). */
export const windowS = (a: FleetArgs, reportRate: number) =>
  a.window || Math.min(60, Math.max(10, 2000 / reportRate));
