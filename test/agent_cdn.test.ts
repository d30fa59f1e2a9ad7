/**
 * The CDN case: the artifacts and the signed manifest come from nginx (a static file host the server does not
 * control), the version from `upkeep serve`. The agent's --base-url points at nginx; nothing about the
 * bytes comes from the server. Needs nginx (CI installs nginx-light); skipped without it outside CI.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  agent,
  daemonVersion,
  enableArgs,
  type Host,
  host,
  type Loop,
  publish,
  readStateFile,
  setTarget,
  startLoop,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

const NGINX = Bun.which("nginx") ?? ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => existsSync(p));
if (!NGINX && process.env.CI === "true") throw new Error("nginx is missing: .ci/run installs nginx-light");

let w: World;
let h: Host;
let nginx: Subprocess | undefined;
let cdn = "";
let _loop: Loop | undefined;
let access = "";
let artifact = "";

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** The world's releases served by nginx on loopback (`cdn`), then the host. */
async function startCdn(world: World): Promise<void> {
  w = world;
  const rel = await publish(w, ["11.0.0", "11.1.0"]);
  artifact = rel.artifacts.find((a) => a.version === "11.1.0")?.name ?? "";
  const ng = join(w.dir, "nginx");
  mkdirSync(join(ng, "tmp"), { recursive: true });
  access = join(ng, "access.log");
  for (let attempt = 0; attempt < 5 && !cdn; attempt++) {
    const port = freePort();
    writeFileSync(
      join(ng, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${ng}/nginx.pid;
error_log ${ng}/error.log;
events { worker_connections 64; }
http {
  access_log ${access};
  client_body_temp_path ${ng}/tmp/body;
  proxy_temp_path ${ng}/tmp/proxy;
  fastcgi_temp_path ${ng}/tmp/fastcgi;
  uwsgi_temp_path ${ng}/tmp/uwsgi;
  scgi_temp_path ${ng}/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${rel.dir};
    location / { }
  }
}
`,
    );
    nginx = Bun.spawn([NGINX as string, "-p", ng, "-c", join(ng, "nginx.conf")], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && nginx.exitCode === null) {
      const ok = await fetch(`${base}/hello-releases.json`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        cdn = base;
        break;
      }
      await Bun.sleep(50);
    }
    if (!cdn && nginx.exitCode === null) {
      nginx.kill("SIGTERM");
      await nginx.exited;
    }
  }
  if (!cdn) throw new Error(`nginx did not start: ${readFileSync(join(ng, "error.log"), "utf8")}`);
  await setTarget(w, "11.0.0");
  h = host(w, "c");
}

describe.skipIf(!NGINX)("nginx as the artifact host (CDN)", () => {
  // Registered first: nginx stops before the world (its files are in the world's folder).
  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      process.kill(nginx.pid, "SIGTERM");
      await nginx.exited;
    }
  });
  useWorld("agent-cdn", startCdn);

  test("enable and an update download the manifest and artifacts from nginx, the version from serve", async () => {
    // A later --base-url wins over the helper's (the server's /artifacts).
    const en = await upkeep([...enableArgs(w, h), "--base-url", cdn]);
    expect(en.code).toBe(0);
    expect(readStateFile(h).spec.base_url).toBe(cdn);
    const helloState = join(w.dir, "c", "hello.json");
    _loop = await startLoop(h, [], { HELLO_STATE: helloState });
    await waitFor("the daemon on 11.0.0", () => daemonVersion(helloState) === "11.0.0");
    await setTarget(w, "11.1.0", "11.0.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    // The loop starts the daemon and then makes its first pass: if that pass asked the server after the
    // target moved, the loop made the update itself and `update --now` finds it done. Either way the
    // bytes came from nginx (checked below).
    const out = JSON.parse(r.stdout) as { outcome: string; from: string; to: string };
    expect(out.to).toBe("11.1.0");
    expect(
      (out.outcome === "updated" && out.from === "11.0.0") ||
        (out.outcome === "unchanged" && out.from === "11.1.0"),
    ).toBe(true);
    await waitFor("the daemon on 11.1.0", () => daemonVersion(helloState) === "11.1.0");
    const log = readFileSync(access, "utf8");
    for (const path of [
      "/hello-releases.json",
      "/hello-releases.json.minisig",
      `/${artifact}`,
      `/${artifact}.minisig`,
    ]) {
      expect(log).toContain(`GET ${path} HTTP`);
    }
  });
});
