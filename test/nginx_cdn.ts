/**
 * nginx on loopback serving a folder: the CDN of the e2e tests (a static file host serve does not control),
 * with its access log to check what was downloaded from it. Stopped by its PID. Needs nginx (CI installs
 * nginx-light); `NGINX` is undefined without it (tests skip outside CI).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const NGINX: string | undefined =
  Bun.which("nginx") ?? ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => existsSync(p));

export interface Cdn {
  /** `http://127.0.0.1:PORT`: `root` is served at its top. */
  url: string;
  /** The access log so far (`GET /path HTTP/1.1` ...). */
  access(): string;
  /** The paths GET from it so far. */
  gets(): string[];
  stop(): Promise<void>;
}

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** nginx serving `root`, its config, pid and logs in `work`; waits until it answers. */
export async function startNginx(root: string, work: string): Promise<Cdn> {
  if (!NGINX) throw new Error("nginx is not installed");
  mkdirSync(join(work, "tmp"), { recursive: true });
  const access = join(work, "access.log");
  let error = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    writeFileSync(
      join(work, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/error.log;
events { worker_connections 64; }
http {
  access_log ${access};
  client_body_temp_path ${work}/tmp/body;
  proxy_temp_path ${work}/tmp/proxy;
  fastcgi_temp_path ${work}/tmp/fastcgi;
  uwsgi_temp_path ${work}/tmp/uwsgi;
  scgi_temp_path ${work}/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
    );
    const proc: Subprocess = Bun.spawn([NGINX, "-p", work, "-c", join(work, "nginx.conf")], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 5000;
    let up = false;
    while (!up && Date.now() < deadline && proc.exitCode === null) {
      // Any answer from nginx (a 404 for a folder still empty) says it is up.
      up = await fetch(`${url}/`).then(
        (r) => r.headers.get("server")?.startsWith("nginx") === true,
        () => false,
      );
      if (!up) await Bun.sleep(50);
    }
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid, "SIGTERM");
        await proc.exited;
      }
    };
    if (up) {
      const read = () => (existsSync(access) ? readFileSync(access, "utf8") : "");
      return {
        url,
        access: read,
        gets: () => [...read().matchAll(/"GET (\S+) HTTP/g)].map((m) => m[1] as string),
        stop,
      };
    }
    await stop();
    error = existsSync(join(work, "error.log")) ? readFileSync(join(work, "error.log"), "utf8") : "";
  }
  throw new Error(`nginx did not start: ${error}`);
}
