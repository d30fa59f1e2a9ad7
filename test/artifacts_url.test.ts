/**
 * `serve --artifacts-url` (issue 15): the releases and upkeep itself are on a CDN (nginx on loopback), the
 * version from `upkeep serve`. install.sh, the agent it enables and `upkeep tools` download from nginx, and
 * serve answers no artifact or executable download; `admin publish` to it is refused. Then the shared-dir
 * layout: a dir declared shared takes uploads, and hosts are still sent to the URL that serves it. Needs
 * nginx (CI installs nginx-light); skipped without it outside CI.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type FakeRelease, makeFakeRelease } from "../scripts/fake-release.ts";
import {
  ADMIN,
  AGENT_TOKEN,
  adminOk,
  agent,
  daemonVersion,
  developer,
  type Host,
  host,
  readStateFile,
  startLoop,
  useWorld,
  type World,
  type WorldOptions,
  waitFor,
} from "./agent_helpers.ts";
import { keygenIn, UPKEEP, upkeep } from "./cli.ts";
import { type Cdn, NGINX, startNginx } from "./nginx_cdn.ts";
import { type Postgres, pgSkip, startPostgres } from "./pg_harness.ts";
import { startServe } from "./serve_process.ts";

setDefaultTimeout(60_000);

if (!NGINX && process.env.CI === "true") throw new Error("nginx is missing: .ci/run installs nginx-light");

/** The name install.sh computes for this machine (serve's /download uses the same). */
const SELF_NAME = `upkeep-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
const sha256 = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

/** What a release engineer puts on the CDN: `upkeep release`'s folder, the public key, and upkeep itself. */
async function fillCdn(www: string, w: World): Promise<FakeRelease> {
  const rel = await makeFakeRelease({ out: www, versions: ["11.0.0", "11.1.0"], key: w.key });
  copyFileSync(w.pub, join(www, "hello.pub"));
  copyFileSync(UPKEEP, join(www, SELF_NAME));
  writeFileSync(join(www, `${SELF_NAME}.sha256`), `${sha256(UPKEEP)}  ${SELF_NAME}\n`);
  return rel;
}

/** Agents on `agents`, client tools on 11.1.0 (checked against the manifest on the CDN: no --force). */
async function setVersions(w: World, agents: string, start = agents): Promise<void> {
  await adminOk(
    w,
    ["apply", "-f", "-"],
    `kind: server\nserver_version: 11.9.0\n---\nkind: autoupdate_version\nspec:\n  tools: { target_version: 11.1.0 }\n  agents: { start_version: ${start}, target_version: ${agents}, schedule: immediate, mode: enabled }\n`,
  );
}

/** serve's request counters of the download routes (artifacts, its own executable). */
async function downloadsFromServe(url: string): Promise<string[]> {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("upkeep_http_requests_total") && /route="\/(artifacts|download)\//.test(l));
}

describe.skipIf(!NGINX)("serve --artifacts-url: a CDN (nginx) serves every download", () => {
  const tmp = mkdtempSync(join(tmpdir(), "upkeep-art-url-"));
  const www = join(tmp, "www");
  mkdirSync(www, { recursive: true });
  let cdn: Cdn | undefined;
  let w: World;
  let rel: FakeRelease;
  let h: Host;
  // serve is told nginx's URL: nginx starts first (this hook runs before the world's).
  const opts: WorldOptions = {};
  beforeAll(async () => {
    cdn = await startNginx(www, join(tmp, "nginx"));
    opts.serveArgs = ["--artifacts-url", `${cdn.url}/`];
  });
  afterAll(async () => {
    await cdn?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  useWorld(
    "art-url",
    async (world) => {
      w = world;
      rel = await fillCdn(www, w);
      await setVersions(w, "11.0.0");
    },
    opts,
  );
  const url = () => (cdn as Cdn).url;

  test("admin publish is refused (409) saying where the files go; nothing is stored", async () => {
    const artifact = rel.artifacts[0]?.path as string;
    const r = await upkeep(["admin", "publish", artifact], { env: w.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`hosts download them from --artifacts-url ${url()}`);
    expect(r.stderr).toContain("--artifacts-shared");
    const releases = await (
      await fetch(`${w.url}/v1/releases`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json();
    expect((releases as { artifacts: unknown[] }).artifacts).toEqual([]);
    // What serve knows of the releases came from the CDN: the versions its manifest lists.
    const listed = (releases as { manifest: { versions: string[] } | null }).manifest?.versions;
    expect([...(listed ?? [])].sort()).toEqual(["11.0.0", "11.1.0"]);
  });

  test("install.sh installs upkeep from nginx and enables an agent whose releases come from nginx", async () => {
    h = host(w, "h");
    const script = join(w.dir, "install.sh");
    writeFileSync(script, await (await fetch(`${w.url}/scripts/install.sh`)).text());
    const upkeepBin = join(w.dir, "h", "upkeep-bin");
    // No --base-url: install.sh passes the artifacts URL.
    const args = ["--product", "hello", "--trust-key", w.pub, "--token", AGENT_TOKEN, ...h.where];
    const more = [
      "--bin-dir",
      h.binDir,
      "--service",
      "supervise",
      "--daemon-arg",
      "serve",
      "--health-wait",
      "1500ms",
    ];
    const p = Bun.spawn(["sh", script, ...args, ...more], {
      env: { ...process.env, UPKEEP_BIN_DIR: upkeepBin },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    expect(stderr).toContain(`downloading ${SELF_NAME} from ${url()}`);
    expect(code).toBe(0);
    expect(sha256(join(upkeepBin, "upkeep"))).toBe(sha256(UPKEEP));
    const state = readStateFile(h);
    expect(state.spec.base_url).toBe(url());
    expect(state.status.active).toBe("11.0.0");

    // An update: the next version's bytes come from nginx too.
    const helloState = join(w.dir, "h", "hello.json");
    await startLoop(h, [], { HELLO_STATE: helloState });
    await waitFor("the daemon on 11.0.0", () => daemonVersion(helloState) === "11.0.0");
    await setVersions(w, "11.1.0", "11.0.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    expect((JSON.parse(r.stdout) as { to: string }).to).toBe("11.1.0");
    await waitFor("the daemon on 11.1.0", () => daemonVersion(helloState) === "11.1.0");

    const gets = (cdn as Cdn).gets();
    for (const name of [
      SELF_NAME,
      `${SELF_NAME}.sha256`,
      "hello-releases.json",
      "hello-releases.json.minisig",
    ])
      expect(gets).toContain(`/${name}`);
    for (const a of rel.artifacts) {
      expect(gets).toContain(`/${a.name}`);
      expect(gets).toContain(`/${a.name}.minisig`);
    }
  });

  test("tools login learns the CDN from serve's answer; the tools and the release key come from nginx", async () => {
    const u = developer(w);
    // Neither --base-url nor --trust-key: the key published on the CDN is trusted on first use.
    const login = await upkeep(["tools", "login", "--server", w.url, "--product", "hello", "--json"], {
      env: u.env,
    });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain(`published at ${url()}/hello.pub`);
    expect((JSON.parse(login.stdout) as { base_url: string }).base_url).toBe(url());
    const run = await upkeep(["tools", "exec", "hello", "version"], { env: u.env });
    expect(run.stderr).toContain(`installing client tools v11.1.0 from ${url()}\n`);
    expect(run.stdout.trim()).toBe("hello v11.1.0");
    const gets = (cdn as Cdn).gets();
    expect(gets).toContain("/hello.pub");
    expect(gets.filter((g) => g.endsWith("-v11.1.0-linux-amd64-bin.tar.gz")).length).toBeGreaterThanOrEqual(
      2,
    );
  });

  test("serve answered no artifact or executable download, and sends a host asking it to nginx", async () => {
    expect(await downloadsFromServe(w.url)).toEqual([]);
    const name = rel.artifacts[0]?.name as string;
    const r = await fetch(`${w.url}/artifacts/${name}`, { redirect: "manual" });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe(`${url()}/${name}`);
    await r.body?.cancel();
  });

  test("a shared dir: uploads land there, hosts are still sent to the URL that serves it", async () => {
    const shared = join(www, "shared");
    const s = await startServe(
      join(tmp, "data2"),
      ["--artifacts-url", `${url()}/shared`, "--artifacts-dir", shared, "--artifacts-shared"],
      { UPKEEP_ADMIN_TOKEN: ADMIN },
    );
    try {
      const a = rel.artifacts[1] as FakeRelease["artifacts"][number];
      const r = await upkeep(["admin", "publish", a.path], {
        env: { UPKEEP_SERVER: s.url, UPKEEP_TOKEN: ADMIN },
      });
      expect(r.code).toBe(0);
      expect(existsSync(join(shared, a.name))).toBe(true);
      // nginx serves what the replica wrote; the find answer and install.sh name the URL.
      expect(sha256(join(shared, a.name))).toBe(a.sha256);
      const viaCdn = await fetch(`${url()}/shared/${a.name}`);
      expect(viaCdn.status).toBe(200);
      await viaCdn.body?.cancel();
      const find = (await (await fetch(`${s.url}/v1/webapi/find`)).json()) as {
        upkeep: { artifacts_url?: string };
      };
      expect(find.upkeep.artifacts_url).toBe(`${url()}/shared`);
      expect(await (await fetch(`${s.url}/scripts/install.sh`)).text()).toContain(
        `UPKEEP_ARTIFACTS='${url()}/shared'`,
      );
    } finally {
      await s.stop();
    }
  });
});

describe.skipIf(pgSkip("test/artifacts_url.test.ts (replicas on PostgreSQL)"))(
  "replicas on PostgreSQL: admin publish needs a shared dir or goes to --artifacts-url",
  () => {
    const tmp = mkdtempSync(join(tmpdir(), "upkeep-art-pg-"));
    let pg: Postgres | undefined;
    let artifact = "";
    beforeAll(async () => {
      pg = await startPostgres();
      const keys = await keygenIn(join(tmp, "keys"));
      const rel = await makeFakeRelease({ out: join(tmp, "rel"), versions: ["11.0.0"], key: keys.key });
      artifact = rel.artifacts[0]?.path as string;
    }, 60_000);
    afterAll(async () => {
      await pg?.stop();
      rmSync(tmp, { recursive: true, force: true });
    });
    const publishTo = (url: string) =>
      upkeep(["admin", "publish", artifact], { env: { UPKEEP_SERVER: url, UPKEEP_TOKEN: ADMIN } });

    test("a replica whose dir is not declared shared refuses (409, saying what to do); a shared one takes it", async () => {
      const store = (pg as Postgres).url;
      const local = await startServe(join(tmp, "a"), ["--store", store], { UPKEEP_ADMIN_TOKEN: ADMIN });
      try {
        const r = await publishTo(local.url);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`artifacts dir ${join(tmp, "a", "artifacts")} is not declared shared`);
        expect(r.stderr).toContain("--artifacts-shared");
        expect(r.stderr).toContain("--artifacts-url");
        expect(existsSync(join(tmp, "a", "artifacts", basename(artifact)))).toBe(false);
      } finally {
        await local.stop();
      }
      const shared = join(tmp, "shared");
      const args = ["--store", store, "--artifacts-dir", shared, "--artifacts-shared"];
      const b = await startServe(join(tmp, "b"), args, { UPKEEP_ADMIN_TOKEN: ADMIN });
      try {
        const r = await publishTo(b.url);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(existsSync(join(shared, basename(artifact)))).toBe(true);
      } finally {
        await b.stop();
      }
    });
  },
);
