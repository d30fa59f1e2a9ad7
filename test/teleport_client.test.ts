/**
 * A Teleport client's view of a real `upkeep serve` (the compiled binary on loopback): its find/ping answers
 * decoded with the exact JSON field names of Teleport's `PingResponse`, `AuthenticationSettings`,
 * `ProxySettings` and `AutoUpdateSettings` (api/client/webclient/webclient.go), its refusals as
 * `PingErrorResponse`, RFD 109's channel answers, the editions; and `npm start`'s first start turning client
 * tools updates on.
 *
 * The decoder is strict where Go's is lenient: every field Teleport's encoder always writes (no `omitempty`)
 * must be there, with Go's type; a field Teleport may leave out must have its type when present. Fields
 * Teleport does not know (upkeep's own) are ignored, as Go ignores them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { cleanup, waitFor } from "./agent_helpers.ts";
import { ROOT, stopGroup, upkeep } from "./cli.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

type Kind = "string" | "bool" | "int" | "semver" | "duration" | Shape;
/** A Go struct: its JSON fields, each required (always written) or optional (`omitempty`). */
interface Shape {
  required: Record<string, Kind>;
  optional?: Record<string, Kind>;
}

const AUTO_UPDATE_SETTINGS: Shape = {
  required: {
    tools_version: "semver",
    tools_auto_update: "bool",
    agent_version: "semver",
    agent_auto_update: "bool",
    agent_update_jitter_seconds: "int",
  },
};

const AUTHENTICATION_SETTINGS: Shape = {
  required: {
    type: "string",
    private_key_policy: "string",
    piv_slot: "string",
    piv_pin_cache_duration: "int",
    device_trust: { required: {}, optional: { disabled: "bool", auto_enroll: "bool" } },
    has_motd: "bool",
    default_session_ttl: "duration",
  },
  optional: {
    second_factor: "string",
    preferred_local_mfa: "string",
    allow_passwordless: "bool",
    allow_headless: "bool",
    load_all_cas: "bool",
  },
};

const NO_ADDRESSES: Shape = { required: {} };

const PROXY_SETTINGS: Shape = {
  required: { kube: NO_ADDRESSES, ssh: NO_ADDRESSES, db: NO_ADDRESSES, tls_routing_enabled: "bool" },
};

const PING_RESPONSE: Shape = {
  required: {
    auth: AUTHENTICATION_SETTINGS,
    proxy: PROXY_SETTINGS,
    server_version: "semver",
    min_client_version: "semver",
    auto_update: AUTO_UPDATE_SETTINGS,
    cluster_name: "string",
    automatic_upgrades: "bool",
    edition: "string",
    fips: "bool",
  },
};

const PING_ERROR_RESPONSE: Shape = { required: { error: { required: { message: "string" } } } };

// Go's semver (coreos/go-semver, what Teleport parses versions with): MAJOR.MINOR.PATCH[-pre][+build].
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const GO_DURATION = /^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;

/** Decodes `doc` as `shape`: the decoded value, or throws naming the first field that is missing or wrong. */
function decode(doc: unknown, shape: Shape, path = "$"): Record<string, unknown> {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new Error(`${path}: not an object`);
  const d = doc as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(shape.required)) {
    if (!(field in d)) throw new Error(`${path}.${field}: missing`);
    out[field] = check(d[field], kind, `${path}.${field}`);
  }
  for (const [field, kind] of Object.entries(shape.optional ?? {}))
    if (field in d) out[field] = check(d[field], kind, `${path}.${field}`);
  return out;
}

function check(v: unknown, kind: Kind, path: string): unknown {
  if (typeof kind === "object") return decode(v, kind, path);
  const ok =
    kind === "string"
      ? typeof v === "string"
      : kind === "bool"
        ? typeof v === "boolean"
        : kind === "int"
          ? Number.isInteger(v)
          : kind === "semver"
            ? typeof v === "string" && (v === "" || SEMVER.test(v))
            : typeof v === "string" && GO_DURATION.test(v);
  if (!ok) throw new Error(`${path}: ${JSON.stringify(v)} is not a Go ${kind}`);
  return v;
}

type Ping = {
  server_version: string;
  min_client_version: string;
  auto_update: Record<string, unknown>;
  automatic_upgrades: boolean;
  edition: string;
  fips: boolean;
};

async function ping(url: string): Promise<Ping> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return decode(await r.json(), PING_RESPONSE) as Ping;
}

const dirs: string[] = [];
const servers: ServeProcess[] = [];
const groups: number[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const g of groups) await stopGroup(g);
  for (const d of dirs) cleanup(d);
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `upkeep-${prefix}-`));
  dirs.push(d);
  return d;
}

const ADMIN = `admin-${crypto.randomUUID()}`;

async function serve(args: string[]): Promise<ServeProcess> {
  const s = await startServe(join(tempDir("teleport"), "data"), args, { UPKEEP_ADMIN_TOKEN: ADMIN });
  servers.push(s);
  return s;
}

async function apply(s: ServeProcess, yaml: string): Promise<void> {
  const r = await upkeep(["admin", "apply", "--force", "-f", "-"], {
    env: { UPKEEP_SERVER: s.url, UPKEEP_TOKEN: ADMIN },
    stdin: yaml,
  });
  expect(r.code, r.stderr).toBe(0);
}

describe("find/ping decoded as Teleport's PingResponse", () => {
  test("every path, before any resource: tools not told to update (Teleport's default), then told once enabled", async () => {
    const s = await serve(["--server-version", "17.0.1", "--cluster-name", "east"]);
    const paths = [
      "/webapi/find",
      "/v1/webapi/find",
      "/webapi/ping",
      "/v1/webapi/ping",
      "/webapi/ping/github",
      "/v1/webapi/ping/okta",
    ];
    for (const path of paths) {
      const p = await ping(`${s.url}${path}?group=prod&update_id=u1`);
      expect(p).toMatchObject({
        server_version: "17.0.1",
        min_client_version: "16.0.0-aa",
        automatic_upgrades: true,
        edition: "oss",
        fips: false,
      });
      expect(p.auto_update).toMatchObject({ tools_version: "17.0.1", tools_auto_update: false });
    }
    // The server version is named with no version policy at all; once there is one, still no tools update
    // until spec.tools.mode says enabled.
    await apply(s, "kind: autoupdate_version\nspec:\n  tools: { target_version: 17.0.1 }\n");
    expect((await ping(`${s.url}/webapi/find`)).auto_update).toMatchObject({ tools_auto_update: false });
    await apply(s, "kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n");
    for (const path of paths)
      expect((await ping(`${s.url}${path}`)).auto_update).toMatchObject({
        tools_version: "17.0.1",
        tools_auto_update: true,
      });
  });

  test("refusals decode as PingErrorResponse: the message, not an unparseable answer", async () => {
    const s = await serve([]);
    for (const [path, status, message] of [
      ["/webapi/nope", 404, "no route for GET /webapi/nope"],
      ["/v1/rollout", 401, "missing token: send `Authorization: Bearer <token>`"],
      ["/v1/webapi/automaticupgrades/channel/default/latest", 400, "channel/<channel>/version"],
    ] as const) {
      const r = await fetch(`${s.url}${path}`);
      expect(r.status).toBe(status);
      const e = decode(await r.json(), PING_ERROR_RESPONSE) as { error: { message: string } };
      expect(e.error.message).toContain(message);
    }
  });

  test("RFD 109 channel answers for v1 updaters: plain text, from the same decisions", async () => {
    const s = await serve(["--server-version", "17.0.1"]);
    const get = async (path: string) => {
      const r = await fetch(`${s.url}/v1/webapi/automaticupgrades/channel/${path}`);
      expect(r.status).toBe(200);
      return r.text();
    };
    expect([await get("default/version"), await get("default/critical")]).toEqual(["none", "no"]);
    await apply(
      s,
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: immediate, mode: enabled }\n",
    );
    expect([await get("default/version"), await get("stable/cloud/critical")]).toEqual(["v17.0.1", "yes"]);
  });
});

describe("editions, as Teleport names them", () => {
  const agents =
    "kind: autoupdate_version\nspec:\n  agents: { start_version: 17.0.1, target_version: 17.0.1, schedule: immediate, mode: enabled }\n";
  const artifact = async (s: ServeProcess) =>
    ((await (await fetch(`${s.url}/webapi/find`)).json()) as { upkeep: { artifact: string } }).upkeep
      .artifact;

  test("community: served as community, its artifacts named as oss ones", async () => {
    const s = await serve(["--product", "teleport", "--edition", "community"]);
    await apply(s, agents);
    expect((await ping(`${s.url}/webapi/ping`)).edition).toBe("community");
    expect(await artifact(s)).toBe("teleport-v17.0.1-{os}-{arch}-bin.tar.gz");
  });

  test("FIPS is an Enterprise build: teleport-ent-...-fips; --fips without --edition ent is refused", async () => {
    const s = await serve(["--product", "teleport", "--edition", "ent", "--fips"]);
    await apply(s, agents);
    expect(await ping(`${s.url}/webapi/ping`)).toMatchObject({ edition: "ent", fips: true });
    expect(await artifact(s)).toBe("teleport-ent-v17.0.1-{os}-{arch}-fips-bin.tar.gz");
    const r = await upkeep(["serve", "--fips", "--listen", "127.0.0.1:0", "--data-dir", tempDir("fips")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--fips needs --edition ent (this is --edition oss)");
  });
});

/** `npm start`'s script, in its own process group (stopped by the group's id), with its own port and dir. */
describe("npm start (scripts/start.sh)", () => {
  test("the first start of a data dir turns client tools updates on (spec.tools.mode enabled)", async () => {
    const data = join(tempDir("start"), "data");
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith("UPKEEP_")) env[k] = v;
    const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(["sh", "scripts/start.sh"], {
      cwd: ROOT,
      env: { ...env, UPKEEP_LISTEN: `127.0.0.1:${port}`, UPKEEP_DATA_DIR: data },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    groups.push(proc.pid);
    const out = { text: "" };
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const c of s) out.text += dec.decode(c, { stream: true });
    };
    void pump(proc.stdout);
    void pump(proc.stderr);
    // It builds first: generous.
    await waitFor(
      "npm start to listen",
      () => /upkeep serve listening/.test(out.text) || proc.exitCode !== null,
      180_000,
    );
    expect(proc.exitCode, out.text).toBeNull();
    expect(out.text).toContain("Client tools updates: on");
    expect(existsSync(join(data, "admin-token"))).toBe(true);
    const token = readFileSync(join(data, "admin-token"), "utf8").trim();
    const mode = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/v1/resources/autoupdate_config`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return ((await r.json()) as { spec?: { tools?: { mode?: string } } }).spec?.tools?.mode;
    };
    await waitFor("the tools config applied", async () => (await mode()) === "enabled", 30_000);
  }, 240_000);
});

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
