/** Builds an in-process server (in-memory SQLite, temp artifact dir, fake clock) for route tests. */
import { expect } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { UsageError } from "../core/errors.ts";
import { parseAutoupdateConfig, parseAutoupdateVersion } from "../core/resources/mod.ts";
import type { ServerInfo } from "../core/wire/mod.ts";
import { createApp, type SelfBinary } from "./app.ts";
import { type ArtifactLayout, openArtifacts } from "./artifact_store.ts";
import { Metrics } from "./metrics.ts";
import { RolloutService } from "./rollout_service.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { hashToken, TokenChecker } from "./tokens.ts";

export const ADMIN = "admin-token-for-tests";
export const AGENT = "agent-token-for-tests";
export const VIEWER = "viewer-token-for-tests";

export interface Harness {
  app: ReturnType<typeof createApp>;
  rollout: RolloutService;
  store: SqliteStore;
  clock: { now: Date; advance(ms: number): void; set(iso: string): void };
  logs: string[];
  /** Admin request helper: JSON body, bearer token. */
  req(method: string, path: string, body?: unknown, token?: string, type?: string): Promise<Response>;
}

export async function harness(
  opts: {
    start?: string;
    /** null: the server's version is not set. */
    serverVersion?: string | null;
    random?: () => number;
    db?: string;
    presenceMs?: number;
    retentionMs?: number;
    /** Serve a small file as the running executable at /download/upkeep-linux-amd64. */
    self?: boolean;
    /** Overrides of the server's identity (default: hello, cluster test, oss, no FIPS, no jitter). */
    info?: Partial<ServerInfo>;
    /** Where artifacts live (default: a temp dir, uploads taken, downloads from /artifacts). */
    artifacts?: Partial<ArtifactLayout>;
    /** The server's own upkeep version (default: none known). */
    ownVersion?: string;
  } = {},
): Promise<Harness> {
  const clock = fakeClock(opts.start ?? "2026-11-23T08:30:00Z"); // a Monday
  const now = () => clock.now;
  const store = new SqliteStore(opts.db ?? ":memory:");
  await addTestTokens(store, now().toISOString());
  const logs: string[] = [];
  const log = (msg: string, fields?: Record<string, unknown>) => {
    logs.push(`${msg} ${fields ? JSON.stringify(fields) : ""}`);
  };
  const artifacts = openArtifacts(
    {
      artifactsDir: join(mkdtempSync(join(tmpdir(), "upkeep-art-")), "artifacts"),
      artifactsUrl: undefined,
      artifactsShared: false,
      ...opts.artifacts,
    },
    log,
  );
  const rollout = new RolloutService({
    store,
    info: {
      product: "hello",
      clusterName: "test",
      edition: "oss",
      fips: false,
      jitterSeconds: 0,
      ...opts.info,
    },
    serverVersion: opts.serverVersion === null ? undefined : (opts.serverVersion ?? "17.0.1"),
    now,
    random: opts.random ?? (() => 0),
    presenceMs: opts.presenceMs ?? 10 * 60_000,
    ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
    ...(opts.ownVersion !== undefined ? { ownVersion: opts.ownVersion } : {}),
    readArtifact: (name) => artifacts.readText(name),
    log,
  });
  await rollout.load();
  const self = opts.self ? fakeSelf() : undefined;
  const app = createApp({
    store,
    artifacts,
    tokens: new TokenChecker(store),
    rollout,
    metrics: new Metrics(),
    publicUrl: () => "https://upkeep.example.test",
    ...(self ? { self } : {}),
    now,
    log,
  });
  return { app, rollout, store, clock, logs, req: requester(app) };
}

/** `Harness.req` over `app`: a JSON body (or text as given), the bearer token (default ADMIN). */
function requester(app: Harness["app"]): Harness["req"] {
  return (method: string, path: string, body?: unknown, token = ADMIN, type = "application/json") => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      headers["content-type"] = type;
    }
    return Promise.resolve(
      app.request(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) }),
    );
  };
}

function fakeClock(start: string): Harness["clock"] {
  return {
    now: new Date(start),
    advance(ms: number) {
      this.now = new Date(this.now.getTime() + ms);
    },
    set(iso: string) {
      this.now = new Date(iso);
    },
  };
}

/** One token of each kind: ADMIN, AGENT, VIEWER. */
async function addTestTokens(store: SqliteStore, created: string): Promise<void> {
  const kinds = [
    ["a", "admin", ADMIN],
    ["b", "agent", AGENT],
    ["c", "viewer", VIEWER],
  ] as const;
  for (const [id, kind, token] of kinds)
    await store.addToken({ id, kind, hash: hashToken(token), name: "t", created });
}

/** A small file served as the running executable at /download/upkeep-linux-amd64. */
function fakeSelf(): SelfBinary {
  const path = join(mkdtempSync(join(tmpdir(), "upkeep-self-")), "upkeep");
  writeFileSync(path, "not really upkeep");
  return {
    name: "upkeep-linux-amd64",
    path,
    sha256: async () => new Bun.CryptoHasher("sha256").update("not really upkeep").digest("hex"),
  };
}

/** A halt-on-error schedule: group canary (window from 08:00 UTC, one canary), then prod (from 09:00). */
export const CONFIG_YAML = `kind: autoupdate_config
spec:
  agents:
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: 8, canary_count: 1 }
        - { name: prod, days: ["*"], start_hour: 9, wait_hours: 0 }
    strategy: halt-on-error
    mode: enabled
  tools: { mode: enabled }
`;

/**
 * What the replica tests put (server/replica.test.ts, server/replica_pg.test.ts): a halt-on-error schedule,
 * group canary (one canary) then prod, both opening at `startHour` UTC, and agents from `from` to `to`.
 */
export function replicaResources(startHour: number, from: string, to: string) {
  return {
    config: parseAutoupdateConfig(
      parseYaml(`kind: autoupdate_config
spec:
  agents:
    strategy: halt-on-error
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: ${startHour}, canary_count: 1 }
        - { name: prod, days: ["*"], start_hour: ${startHour}, wait_hours: 0 }
`),
    ),
    version: parseAutoupdateVersion({
      kind: "autoupdate_version",
      spec: { agents: { start_version: from, target_version: to, schedule: "regular", mode: "enabled" } },
    }),
  };
}

/** A halt-on-error schedule of one group, prod (window from 08:00 UTC). */
export const ONE_GROUP = `kind: autoupdate_config
spec:
  agents:
    strategy: halt-on-error
    schedules:
      regular:
        - { name: prod, days: ["*"], start_hour: 8 }
`;

/** Uploads a release manifest listing `versions` (the server reads what it lists; hosts verify it). */
export async function publishManifest(
  h: Harness,
  versions: string[],
  serial = 1,
  o: { critical?: string[]; expires?: string } = {},
): Promise<void> {
  const up = await h.req("PUT", "/v1/artifacts/hello-releases.json", manifestDoc(versions, serial, o));
  if (up.status !== 201) throw new Error(`manifest upload: ${up.status} ${await up.text()}`);
}

/** A release manifest of hello listing `versions` (unsigned: the server does not verify it). */
export function manifestDoc(
  versions: string[],
  serial = 1,
  o: { critical?: string[]; expires?: string } = {},
): unknown {
  return {
    schema: 1,
    product: "hello",
    serial,
    issued: "2026-11-23T00:00:00Z",
    expires: o.expires ?? "2026-12-23T00:00:00Z",
    floor: null,
    releases: versions.map((version) => ({
      version,
      ...(o.critical?.includes(version) ? { critical: true } : {}),
      artifacts: [
        {
          name: `hello-v${version}-linux-amd64-bin.tar.gz`,
          os: "linux",
          arch: "amd64",
          edition: "oss",
          fips: false,
          size: 1,
          sha256: "a".repeat(64),
        },
      ],
    })),
  };
}

/** Uploads upkeep's own release manifest (upkeep-releases.json) listing `versions` for linux/amd64. */
export async function publishSelfManifest(h: Harness, versions: string[], serial = 1): Promise<void> {
  const up = await h.req("PUT", "/v1/artifacts/upkeep-releases.json", selfManifestDoc(versions, serial));
  if (up.status !== 201) throw new Error(`upkeep manifest upload: ${up.status} ${await up.text()}`);
}

/** upkeep's own release manifest listing `versions` for linux/amd64 (unsigned, as `manifestDoc`). */
export function selfManifestDoc(versions: string[], serial = 1): unknown {
  return {
    schema: 1,
    product: "upkeep",
    serial,
    issued: "2026-11-23T00:00:00Z",
    expires: "2026-12-23T00:00:00Z",
    floor: null,
    releases: versions.map((version) => ({
      version,
      artifacts: [
        {
          name: `upkeep-v${version}-linux-amd64`,
          ...{ os: "linux", arch: "amd64", edition: "oss", fips: false, size: 1, sha256: "b".repeat(64) },
        },
      ],
    })),
  };
}

/** The UsageError `f` throws (the test fails when it throws anything else or nothing). */
export function usageRefusal(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("not refused");
}
