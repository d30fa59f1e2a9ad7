/**
 * `dist/upkeep admin` against a real `dist/upkeep serve` on loopback: apply (multi-document YAML, JSON on
 * stdin, bad fields, unknown kinds), get (JSON verbatim and text), tokens, rollout actions, publish with
 * checksums, and the failures an operator meets (wrong token, server down, no server, plain http).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { UPKEEP, upkeep } from "./cli.ts";

const STACK = /\bat .*\.(ts|js):\d+|^\s+at\s/m;
const TOKEN = `admin-${crypto.randomUUID()}`;

let dir: string;
let server: Subprocess;
let url: string;
let env: Record<string, string>;

/** A port nobody listens on right now (bound to port 0, then released). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** Starts `upkeep serve` on a free loopback port and waits for /readyz (retries if the port was taken). */
async function startServer(dataDir: string): Promise<{ proc: Subprocess; url: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const proc = Bun.spawn([UPKEEP, "serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
      env: { ...process.env, UPKEEP_ADMIN_TOKEN: TOKEN, UPKEEP_AGENT_TOKEN: "" },
      stdin: "ignore",
      stdout: Bun.file(join(dir, `serve-${attempt}.log`)),
      stderr: Bun.file(join(dir, `serve-${attempt}.err`)),
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && proc.exitCode === null) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) return { proc, url: base };
      } catch {
        // not listening yet
      }
      await Bun.sleep(25);
    }
    proc.kill("SIGTERM");
    await proc.exited;
  }
  throw new Error(`upkeep serve did not become ready; see the logs in ${dir}`);
}

/** The hour furthest from now: no window opens while the test runs, so only operator actions move groups. */
const farHour = (new Date().getUTCHours() + 12) % 24;

const RESOURCES = `# a config with two groups, the control plane's version, and a rollout 1.0.0 -> 1.1.0
kind: autoupdate_config
spec:
  tools: { mode: enabled }
  agents:
    mode: enabled
    strategy: halt-on-error
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: ${farHour}, canary_count: 1 }
        - { name: prod, days: ["*"], start_hour: ${farHour}, wait_hours: 0 }
---
kind: server
server_version: 2.0.0
---
kind: autoupdate_version
spec:
  tools: { target_version: 1.1.0 }
  agents: { start_version: 1.0.0, target_version: 1.1.0, schedule: regular, mode: enabled }
`;

async function report(token: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/agents/report`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** A status read with the admin token (reads need a viewer or admin token). */
const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });

const admin = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) =>
  upkeep(["admin", ...args], { env: { ...env, ...opts.env }, ...(opts.stdin ? { stdin: opts.stdin } : {}) });

async function rolloutJson(): Promise<{ groups: { name: string; state: string; canaries: unknown[] }[] }> {
  const r = await admin(["get", "rollout", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

async function stateOf(group: string): Promise<string | undefined> {
  return (await rolloutJson()).groups.find((g) => g.name === group)?.state;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "upkeep-admin-"));
  const started = await startServer(join(dir, "data"));
  server = started.proc;
  url = started.url;
  env = { UPKEEP_SERVER: url, UPKEEP_TOKEN: TOKEN };
  // One agent per group, on the start version, so groups stay where operator actions put them.
  for (const [id, group] of [
    ["u1", "canary"],
    ["u2", "prod"],
  ]) {
    expect(
      (await report(TOKEN, { updater_id: id, hostname: `h-${id}`, group, version: "1.0.0", state: "ok" }))
        .status,
    ).toBe(200);
  }
});

afterAll(async () => {
  if (server) {
    server.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("upkeep admin apply", () => {
  test("applies a multi-document YAML file (config, server, version) in order", async () => {
    const file = join(dir, "resources.yaml");
    writeFileSync(file, RESOURCES);
    // No release manifest on this server: nothing says hosts can install 1.0.0 or 1.1.0. Refused whole.
    const refused = await admin(["apply", "-f", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "no release manifest (hello-releases.json) is published on this server, so hosts cannot install 1.0.0, 1.1.0: nothing was applied (E_NOT_IN_MANIFEST)",
    );
    expect(refused.stderr).toContain("apply with --force");
    expect(refused.stderr).not.toContain("?force=1");
    expect(((await (await get("/v1/server")).json()) as { server_version: unknown }).server_version).not.toBe(
      "2.0.0",
    );
    // --force: artifacts hosted elsewhere.
    const r = await admin(["apply", "-f", file, "--force"]);
    expect(r.stderr).toBe(
      "applied with --force: 1.0.0, 1.1.0 cannot be checked: no release manifest is published on this server; hosts must get them from elsewhere\n",
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").slice(0, 3)).toEqual([
      `autoupdate_config applied (${file} document 1)`,
      `server applied (${file} document 2)`,
      `autoupdate_version applied (${file} document 3)`,
    ]);
    const version = (await (await get("/v1/resources/autoupdate_version")).json()) as {
      spec: { agents: { target_version: string } };
    };
    expect(version.spec.agents.target_version).toBe("1.1.0");
  });

  test("reads JSON from stdin with -f - and prints what the server stored with --json", async () => {
    const r = await admin(["apply", "-f", "-", "--json", "--force"], {
      stdin: JSON.stringify({ kind: "server", server_version: "v2.0.0" }),
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.applied).toHaveLength(1);
    expect(out.applied[0]).toMatchObject({ file: "<stdin>", document: 1, kind: "server" });
    expect(out.applied[0].result.server_version).toBe("2.0.0");
  });

  test("a bad field: exit 2, the server's message with the field path, nothing of the set applied", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      `kind: server\nserver_version: 2.0.1\n---\nkind: autoupdate_config\nspec:\n  agents:\n    schedules:\n      regular:\n        - { name: canary, days: ["*"], start_hour: 24 }\n`,
    );
    const r = await admin(["apply", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file} document 2`);
    expect(r.stderr).toContain("spec.agents.schedules.regular[0].start_hour");
    expect(r.stderr).toContain("E_BAD_RESOURCE");
    expect(r.stderr).toContain("nothing was applied");
    expect(r.stderr).not.toMatch(STACK);
    // Neither document 1 nor the earlier config changed.
    expect(((await (await get("/v1/server")).json()) as { server_version: string }).server_version).toBe(
      "2.0.0",
    );
    const config = (await (await get("/v1/resources/autoupdate_config")).json()) as {
      spec: { agents: { schedules: { regular: { name: string }[] } } };
    };
    expect(config.spec.agents.schedules.regular.map((g) => g.name)).toEqual(["canary", "prod"]);
  });

  test("an unknown kind: exit 2 naming the file and document index, nothing sent", async () => {
    const file = join(dir, "unknown.yaml");
    writeFileSync(file, "kind: server\nserver_version: 9.9.9\n---\nkind: role\nspec: {}\n");
    const r = await admin(["apply", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file} document 2: unknown kind "role"`);
    expect(r.stderr).toContain("nothing was applied");
    const info = (await (await get("/v1/server")).json()) as { server_version: string };
    expect(info.server_version).toBe("2.0.0");
  });

  test("malformed YAML and a missing file: exit 2", async () => {
    const bad = await admin(["apply", "-f", "-"], { stdin: "kind: [unclosed\n" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("<stdin> document 1: not valid YAML");
    const missing = await admin(["apply", "-f", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.yaml: no such file");
  });
});

describe("upkeep admin get", () => {
  test("config: --json is the server's JSON verbatim, text is YAML", async () => {
    const json = await admin(["get", "config", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await (await get("/v1/resources/autoupdate_config")).json());
    const text = await admin(["get", "config"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("kind: autoupdate_config");
    expect(text.stdout).toContain("strategy: halt-on-error");
  });

  test("version", async () => {
    const json = await admin(["get", "version", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual(await (await get("/v1/resources/autoupdate_version")).json());
    const text = await admin(["get", "version"]);
    expect(text.stdout).toContain("target_version: 1.1.0");
    expect(text.stdout).toContain("start_version: 1.0.0");
  });

  test("rollout: JSON with groups, text as a table", async () => {
    const view = await rolloutJson();
    expect(view.groups.map((g) => [g.name, g.state])).toEqual([
      ["canary", "unstarted"],
      ["prod", "unstarted"],
    ]);
    // 100 columns: the reason goes whole under its group's row.
    const text = await admin(["get", "rollout"], { env: { COLUMNS: "100" } });
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toContain("rollout 1.0.0 -> 1.1.0");
    expect(lines[0]).toContain("strategy halt-on-error");
    expect(lines[1]).toMatch(/^GROUP\s+STATE\s+PRESENT\s+UPDATED\s+FAILED\s+INITIAL\s+CANARIES\s+STARTED$/);
    expect(lines[2]).toMatch(/^canary\s+unstarted\s+1\s+0\s+0\s+0\s+-\s+-$/);
    expect(lines[3]).toMatch(/^ {4}reason: waiting for its window: next opens \S+Z$/);
    expect(lines[4]).toMatch(/^prod\s+unstarted\s+1\s/);
    expect(lines[5]).toBe("    reason: waiting for earlier group canary (unstarted)");
    // A wide terminal: the reason is the last column.
    const wide = await admin(["get", "rollout"], { env: { COLUMNS: "200" } });
    const w = wide.stdout.trim().split("\n");
    expect(w[1]).toMatch(
      /^GROUP\s+STATE\s+PRESENT\s+UPDATED\s+FAILED\s+INITIAL\s+CANARIES\s+STARTED\s+REASON$/,
    );
    expect(w[2]).toMatch(/^canary\s+unstarted\s+1\s+0\s+0\s+0\s+-\s+-\s+waiting for its window/);
    // The events, oldest first, without --json.
    expect(text.stdout).toMatch(
      /\nevents:\nTIME\s+GROUP\s+CHANGE\s+WHAT\n\S+Z\s+-\s+-\s+new rollout 1\.0\.0 -> 1\.1\.0/,
    );
  });

  test("agents: JSON and a table (needs the admin token)", async () => {
    const json = await admin(["get", "agents", "--json"]);
    expect(json.code).toBe(0);
    const { agents } = JSON.parse(json.stdout) as { agents: { updater_id: string; present: boolean }[] };
    expect(agents.map((a) => a.updater_id)).toEqual(["u1", "u2"]);
    expect(agents.every((a) => a.present)).toBe(true);
    const text = await admin(["get", "agents"], { env: { COLUMNS: "100" } });
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^UPDATER_ID\s+HOSTNAME\s+GROUP\s+VERSION\s+STATE\s+LAST_SEEN\s+PRESENT$/);
    expect(lines[1]).toMatch(/^u1\s+h-u1\s+canary\s+1\.0\.0\s+ok\s+\d{4}-\d\d-\d\dT\S+Z\s+yes$/);
  });

  test("releases and server", async () => {
    const releases = await admin(["get", "releases", "--json"]);
    expect(releases.code).toBe(0);
    expect(JSON.parse(releases.stdout)).toMatchObject({ product: "hello", critical: [] });
    const text = await admin(["get", "releases"]);
    expect(text.stdout).toStartWith("product hello; critical versions: none");
    const server = await admin(["get", "server", "--json"]);
    expect(JSON.parse(server.stdout)).toMatchObject({ server_version: "2.0.0", product: "hello" });
    expect((await admin(["get", "server"])).stdout).toContain("server_version 2.0.0");
  });
});

describe("upkeep admin release critical", () => {
  test("flags and unflags a release; the flag shows in get releases", async () => {
    const on = await admin(["release", "critical", "v9.9.1", "--json"]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout).critical).toContain("9.9.1");
    const text = await admin(["get", "releases", "--json"]);
    expect(JSON.parse(text.stdout).critical).toContain("9.9.1");
    const off = await admin(["release", "critical", "9.9.1", "--off"]);
    expect(off.code).toBe(0);
    expect(off.stdout).not.toContain("9.9.1");
    const bad = await admin(["release", "critical", "nine"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("version");
  });
});

describe("upkeep admin: refusals", () => {
  test("a wrong token: exit 1, says which flag to check", async () => {
    const r = await admin(["--token", "not-the-token", "apply", "-f", "-"], {
      stdin: "kind: server\nserver_version: 2.0.0\n",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the token was refused: check --token / UPKEEP_TOKEN");
    expect(r.stderr).toContain("E_UNAUTHORIZED");
    expect(r.stderr).not.toMatch(STACK);
  });

  test("no token for a write: exit 1, names the flag and the variable", async () => {
    const r = await admin(["get", "agents"], { env: { UPKEEP_TOKEN: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("needs a token: set --token / UPKEEP_TOKEN");
  });

  test("server down: exit 1, E_NETWORK, names the URL, no stack", async () => {
    const down = `http://127.0.0.1:${freePort()}`;
    const r = await admin(["get", "rollout", "--server", down]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach ${down}: connection refused`);
    expect(r.stderr).toContain("E_NETWORK");
    expect(r.stderr).not.toMatch(STACK);
  });

  test("no server: exit 2 naming --server and UPKEEP_SERVER", async () => {
    const r = await admin(["get", "config"], { env: { UPKEEP_SERVER: "" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--server");
    expect(r.stderr).toContain("UPKEEP_SERVER");
  });

  test("plain http to a host that is not loopback is refused before connecting (unless --insecure)", async () => {
    const r = await admin(["get", "config", "--server", "http://192.0.2.1:8080"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing plain http");
    expect(r.stderr).toContain("--insecure");
    const garbage = await admin(["get", "config", "--server", "upkeep.example.com:8080"]);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toContain("not an http(s) URL");
  });
});

describe("upkeep admin rollout", () => {
  test("start, force, done, rollback on groups; the effect shows in get rollout", async () => {
    const start = await admin(["rollout", "start", "canary"]);
    expect(start.code).toBe(0);
    expect(start.stdout).toStartWith("group canary: canary (");
    const afterStart = await rolloutJson();
    const canary = afterStart.groups.find((g) => g.name === "canary");
    expect(canary?.state).toBe("canary");
    expect(canary?.canaries).toEqual([{ updater_id: "u1", hostname: "h-u1", success: false }]);

    // prod waits for canary: start is refused (409 -> exit 1 with the server's message).
    const early = await admin(["rollout", "start", "prod"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("earlier group canary is canary, not done");
    expect(early.stderr).toContain("E_CONFLICT");

    expect((await admin(["rollout", "force", "canary"])).code).toBe(0);
    expect(await stateOf("canary")).toBe("active");
    expect((await admin(["rollout", "done", "canary"])).code).toBe(0);
    expect(await stateOf("canary")).toBe("done");

    const prod = await admin(["rollout", "start", "prod", "--json"]);
    expect(prod.code).toBe(0);
    expect(JSON.parse(prod.stdout).groups.find((g: { name: string }) => g.name === "prod").state).toBe(
      "active",
    );
    expect((await admin(["rollout", "rollback", "prod"])).code).toBe(0);
    expect(await stateOf("prod")).toBe("rolledback");
    const find = (await (await fetch(`${url}/webapi/find?group=prod`)).json()) as {
      auto_update: { agent_version: string; agent_auto_update: boolean };
    };
    expect(find.auto_update).toMatchObject({ agent_version: "1.0.0", agent_auto_update: true });
  });

  test("refusals from the server: 409 and 404 exit 1 with its message", async () => {
    const again = await admin(["rollout", "rollback", "prod"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("cannot roll back group prod: it is already rolled back");
    const unknown = await admin(["rollout", "start", "nosuch"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no group "nosuch"');
    expect(unknown.stderr).toContain("E_NOT_FOUND");
  });
});

describe("upkeep admin publish", () => {
  const name = "hello-v1.1.0-linux-amd64-bin.tar.gz";
  const bytes = crypto.getRandomValues(new Uint8Array(256 * 1024));
  const sha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

  test("uploads the artifact, its .sha256 and .minisig, then the manifest found beside it", async () => {
    const rel = join(dir, "release");
    mkdirSync(rel);
    writeFileSync(join(rel, name), bytes);
    writeFileSync(join(rel, `${name}.sha256`), `${sha}  ${name}\n`);
    writeFileSync(join(rel, `${name}.minisig`), "untrusted comment: test\nRWQ...\n");
    writeFileSync(join(rel, "hello-releases.json"), '{"serial": 1}\n');
    writeFileSync(join(rel, "hello-releases.json.minisig"), "untrusted comment: test\nRWQ...\n");

    const r = await admin(["publish", join(rel, name)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(" ")[1])).toEqual([
      name,
      `${name}.sha256`,
      `${name}.minisig`,
      "hello-releases.json",
      "hello-releases.json.minisig",
    ]);
    expect(lines[0]).toBe(`uploaded ${name} (${bytes.length} bytes, sha256 ${sha})`);

    const got = await fetch(`${url}/artifacts/${name}`);
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
    expect(await (await fetch(`${url}/artifacts/${name}.sha256`)).text()).toBe(`${sha}  ${name}\n`);

    const again = await admin(["publish", join(rel, name), join(rel, `${name}.sha256`), "--json"]);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout) as { uploaded: { name: string; sha256: string }[] };
    expect(out.uploaded).toHaveLength(5);
    expect(out.uploaded[0]).toMatchObject({ name, sha256: sha });

    const releases = JSON.parse((await admin(["get", "releases", "--json"])).stdout) as {
      artifacts: { name: string; sha256: string; size: number }[];
    };
    expect(releases.artifacts.find((a) => a.name === name)).toMatchObject({
      sha256: sha,
      size: bytes.length,
    });
  });

  test("a file that does not match its .sha256 is refused before anything is uploaded", async () => {
    const bad = join(dir, "bad-release");
    mkdirSync(bad);
    const other = "hello-v1.2.0-linux-amd64-bin.tar.gz";
    writeFileSync(join(bad, other), "these are not the bytes that were checksummed\n");
    writeFileSync(join(bad, `${other}.sha256`), `${sha}  ${other}\n`);
    const r = await admin(["publish", join(bad, other)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("E_CHECKSUM");
    expect(r.stderr).toContain(`does not match ${join(bad, other)}.sha256`);
    expect(r.stdout).toBe("");
    expect((await fetch(`${url}/artifacts/${other}`)).status).toBe(404);
    expect((await fetch(`${url}/artifacts/${other}.sha256`)).status).toBe(404);

    writeFileSync(join(bad, "empty.tar.gz"), "");
    const empty = await admin(["publish", join(bad, "empty.tar.gz")]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`${join(bad, "empty.tar.gz")} is empty`);
  });

  let sums = 0;
  // One parser for .sha256 files (core/trust/checksum_file.ts): publish read only the first line and took a
  // line without a name, or a path, for this file's.
  test.each([
    ["a line without a name", (sum: string, _name: string) => `${sum}\n`, /expected one line/],
    ["a second line", (sum: string, name: string) => `${sum}  ${name}\n${sum}  other\n`, /expected one line/],
    ["a path", (sum: string, name: string) => `${sum}  releases/${name}\n`, /names "releases\//],
    ["another file's name", (sum: string) => `${sum}  other.tar.gz\n`, /names "other.tar.gz"/],
  ])("a .sha256 with %s is refused (E_MALFORMED), nothing uploaded", async (_what, text, message) => {
    const d = mkdtempSync(join(dir, "sum-"));
    const name = `hello-v1.3.${++sums}-linux-amd64-bin.tar.gz`;
    const bytes = `release ${name}\n`;
    writeFileSync(join(d, name), bytes);
    writeFileSync(join(d, `${name}.sha256`), text(createHash("sha256").update(bytes).digest("hex"), name));
    const r = await admin(["publish", join(d, name)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(`${join(d, name)}.sha256: `);
    expect(r.stderr).toContain("(E_MALFORMED)");
    expect(r.stderr).toContain("nothing was uploaded");
    expect((await fetch(`${url}/artifacts/${name}`)).status).toBe(404);
  });
});

describe("upkeep admin tokens", () => {
  test("tokens add --type agent: the token is accepted by POST /v1/agents/report", async () => {
    const r = await admin(["tokens", "add", "--type", "agent", "--name", "ci"]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(r.stderr).toContain('agent token "ci" created');
    const ok = await report(token, {
      updater_id: "u3",
      hostname: "h-u3",
      group: "prod",
      version: "1.0.0",
      state: "ok",
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    expect(
      (await report("not-a-token", { updater_id: "u4", hostname: "h", version: "1.0.0", state: "ok" }))
        .status,
    ).toBe(401);

    const json = await admin(["tokens", "add", "--type", "agent", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: "agent", name: "agent" });

    // list (no secrets) and revoke: the revoked token is refused at once; the last admin token stays.
    const list = JSON.parse((await admin(["tokens", "list", "--json"])).stdout) as {
      tokens: { id: string; type: string; name: string }[];
    };
    expect(JSON.stringify(list)).not.toContain(token);
    const ci = list.tokens.find((t) => t.type === "agent" && t.name === "ci") as { id: string };
    const rm = await admin(["tokens", "rm", ci.id]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`revoked agent token ${ci.id} (ci)`);
    const after = await report(token, { updater_id: "u3", hostname: "h-u3", version: "1.0.0", state: "ok" });
    expect(after.status).toBe(401);
    const admins = list.tokens.filter((t) => t.type === "admin");
    expect(admins.length).toBe(1);
    const last = await admin(["tokens", "rm", (admins[0] as { id: string }).id]);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain("last admin token");
    expect((await admin(["tokens", "rm", "no-such-id"])).stderr).toContain("no token with id");
  });

  test("--type other than agent or viewer: exit 2", async () => {
    const r = await admin(["tokens", "add", "--type", "admin"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("only agent and viewer tokens can be created");
  });

  test("tokens add --type viewer: that token reads status (get, /metrics) and changes nothing", async () => {
    const r = await admin(["tokens", "add", "--type", "viewer", "--name", "grafana"]);
    expect(r.code).toBe(0);
    const viewer = r.stdout.trim();
    expect(r.stderr).toContain('viewer token "grafana" created');
    const as = { env: { UPKEEP_TOKEN: viewer } };
    for (const what of ["rollout", "agents", "releases", "server", "config", "version"]) {
      const g = await admin(["get", what, "--json"], as);
      expect(`${what}: ${g.code} ${g.stderr}`).toBe(`${what}: 0 `);
    }
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(metrics.status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/v1/rollout`)).status).toBe(401);

    const apply = await admin(["apply", "-f", "-"], {
      ...as,
      stdin: "kind: server\nserver_version: 9.9.9\n",
    });
    expect(apply.code).not.toBe(0);
    expect(apply.stderr).toContain("needs an admin token; this is a viewer token");
    expect(apply.stderr).toContain("(E_UNAUTHORIZED)");
    expect((await admin(["tokens", "add", "--type", "agent"], as)).code).not.toBe(0);
    expect((await admin(["rollout", "force", "prod"], as)).stderr).toContain("needs an admin token");
    const info = (await (await get("/v1/server")).json()) as { server_version: string };
    expect(info.server_version).not.toBe("9.9.9");
    const list = JSON.parse((await admin(["tokens", "list", "--json"])).stdout) as {
      tokens: { type: string; name: string }[];
    };
    expect(list.tokens).toContainEqual(expect.objectContaining({ type: "viewer", name: "grafana" }));
  });
});
