import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UPKEEP, upkeep } from "./cli.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

const started: ServeProcess[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
});

async function serve(dir: string, args: string[] = [], env: Record<string, string> = {}) {
  const s = await startServe(dir, args, env);
  started.push(s);
  return s;
}

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `upkeep-${p}-`));

describe("upkeep serve (compiled binary on loopback)", () => {
  test("first start prints the admin token once and keeps only its hash; SIGTERM exits 0; state survives", async () => {
    const dir = tmp("serve");
    const s1 = await serve(dir, ["--server-version", "17.0.1"]);
    const token = /Admin token \(shown once[^)]*\): (\S+)/.exec(s1.stdout())?.[1] as string;
    expect(token).toBeTruthy();
    expect(readFileSync(join(dir, "upkeep.db")).includes(Buffer.from(token))).toBe(false);
    expect((await fetch(`${s1.url}/readyz`)).status).toBe(200);

    const auth = { authorization: `Bearer ${token}`, "content-type": "application/yaml" };
    // ?force=1: no release is published here (the check is not what this test is about).
    const put = await fetch(`${s1.url}/v1/resources/autoupdate_version?force=1`, {
      method: "PUT",
      headers: auth,
      body: "kind: autoupdate_version\nspec:\n  agents: { start_version: 16.4.0, target_version: 17.0.1, schedule: immediate }\n",
    });
    expect(put.status).toBe(200);
    expect(await s1.stop()).toBe(0);
    expect(s1.stderr()).toContain("shutting down");

    const s2 = await serve(dir);
    expect(s2.stdout()).not.toContain("Admin token");
    const find = (await (await fetch(`${s2.url}/webapi/find?group=x`)).json()) as {
      server_version: string;
      auto_update: { agent_version: string; agent_auto_update: boolean };
    };
    expect(find.server_version).toBe("17.0.1");
    expect(find.auto_update).toMatchObject({ agent_version: "17.0.1", agent_auto_update: true });
    const bad = await fetch(`${s2.url}/v1/resources/autoupdate_version`, {
      method: "PUT",
      headers: { ...auth, authorization: "Bearer wrong" },
      body: "{}",
    });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${s2.url}/v1/agents`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
  });

  test("a start that cannot listen exits 2 and keeps no admin token; the next start shows one", async () => {
    const dir = tmp("busy");
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await upkeep(["serve", "--listen", `127.0.0.1:${blocker.port}`, "--data-dir", dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${blocker.port}: the address is in use`);
      expect(r.stdout).not.toContain("Admin token");
      const tls = await upkeep([
        "serve",
        "--data-dir",
        dir,
        "--tls-cert",
        "/nonexistent.pem",
        "--tls-key",
        "/nonexistent.key",
      ]);
      expect(tls.code).toBe(2);
      expect(tls.stderr).toContain("cannot serve TLS");
    } finally {
      blocker.stop(true);
    }
    const s = await serve(dir);
    expect(s.stdout()).toMatch(/Admin token \(shown once[^)]*\): \S+/);
  });

  test("one server per data dir: a second serve on it is refused, naming the first", async () => {
    const dir = tmp("twice");
    await serve(dir);
    const r = await upkeep(["serve", "--listen", "127.0.0.1:0", "--data-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("another upkeep serve holds");
    expect(r.stderr).toContain("E_LOCKED");
  });

  test("UPKEEP_ADMIN_TOKEN is the only admin token: setting a new one revokes the old", async () => {
    const dir = tmp("rotate");
    const s1 = await serve(dir, [], { UPKEEP_ADMIN_TOKEN: "first-admin-token" });
    const first = /Admin token/.test(s1.stdout());
    expect(first).toBe(false);
    await s1.stop();
    const s2 = await serve(dir, [], { UPKEEP_ADMIN_TOKEN: "second-admin-token" });
    const get = (t: string) => fetch(`${s2.url}/v1/agents`, { headers: { authorization: `Bearer ${t}` } });
    expect((await get("second-admin-token")).status).toBe(200);
    expect((await get("first-admin-token")).status).toBe(401);
    expect(s2.stderr()).toContain("other admin tokens revoked");
  });

  test("SIGTERM drains an in-flight upload before exiting 0", async () => {
    const dir = tmp("drain");
    const s = await serve(dir, [], { UPKEEP_ADMIN_TOKEN: "t0k" });
    const chunks = 20;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await Bun.sleep(25);
        c.enqueue(new Uint8Array(64 * 1024).fill(7));
        if (--pulls === 0) c.close();
      },
    });
    let pulls = chunks;
    const upload = fetch(`${s.url}/v1/artifacts/slow.bin`, {
      method: "PUT",
      headers: { authorization: "Bearer t0k" },
      body,
      duplex: "half",
    });
    await Bun.sleep(150);
    process.kill(s.proc.pid, "SIGTERM");
    const r = await upload;
    expect(r.status).toBe(201);
    expect(((await r.json()) as { size: number }).size).toBe(chunks * 64 * 1024);
    expect(await s.proc.exited).toBe(0);
  });

  test("bad flags are refused with exit 2 and one clear line", async () => {
    for (const [args, what] of [
      [["--listen", "nope"], "--listen"],
      [["--server-version", "17.x"], "--server-version"],
      [["--edition", "gold"], "--edition"],
      [["--reconcile-interval", "soon"], "--reconcile-interval"],
      [["--listen", "0.0.0.0:8080"], "needs --public-url"],
    ] as const) {
      const r = await upkeep(["serve", "--data-dir", tmp("flags"), ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(what);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  test("JSON logs with --log-format json", async () => {
    const s = await serve(tmp("json"), ["--log-format", "json"], { UPKEEP_ADMIN_TOKEN: "x" });
    const line = s
      .stderr()
      .split("\n")
      .find((l) => l.includes("listening")) as string;
    expect(JSON.parse(line)).toMatchObject({ msg: "upkeep serve listening" });
  });

  test("install.sh downloads upkeep from the server, verifies its checksum and installs it", async () => {
    const s = await serve(tmp("inst"), [], { UPKEEP_ADMIN_TOKEN: "x" });
    const script = join(tmp("sh"), "install.sh");
    await Bun.write(script, await (await fetch(`${s.url}/scripts/install.sh`)).text());
    const bin = tmp("bin");
    const r = Bun.spawnSync(["sh", script], {
      env: { ...process.env, UPKEEP_BIN_DIR: bin, UPKEEP_INSTALL_ONLY: "1" },
    });
    expect(r.exitCode).toBe(0);
    const installed = join(bin, "upkeep");
    const hash = (p: string) => new Bun.CryptoHasher("sha256").update(readFileSync(p)).digest("hex");
    expect(hash(installed)).toBe(hash(UPKEEP));
    const v = Bun.spawnSync([installed, "--version"]);
    expect(v.stdout.toString()).toMatch(/^upkeep /);

    // Without UPKEEP_INSTALL_ONLY it runs `upkeep agent enable --server <this server> ARGS...` (here --help,
    // which proves the pass-through), and leaves no temporary copy behind.
    const tmpd = tmp("tmpdir");
    const e = Bun.spawnSync(["sh", script, "--help"], {
      env: { ...process.env, UPKEEP_BIN_DIR: bin, TMPDIR: tmpd },
    });
    expect(e.exitCode).toBe(0);
    expect(e.stdout.toString()).toContain("Usage: upkeep agent enable");
    expect(readdirSync(tmpd)).toEqual([]);

    // Under a strict umask the binary is still 0755 (non-root users run `upkeep tools` and `agent status`).
    const strict = tmp("bin-umask");
    const u = Bun.spawnSync(["sh", "-c", `umask 077; sh ${script}`], {
      env: { ...process.env, UPKEEP_BIN_DIR: join(strict, "sub"), UPKEEP_INSTALL_ONLY: "1" },
    });
    expect(u.exitCode).toBe(0);
    expect(statSync(join(strict, "sub", "upkeep")).mode & 0o777).toBe(0o755);
    expect(statSync(join(strict, "sub")).mode & 0o777).toBe(0o755);

    // A BIN_DIR that cannot be made is refused before any download, naming UPKEEP_BIN_DIR.
    const bad = Bun.spawnSync(["sh", script], {
      env: { ...process.env, UPKEEP_BIN_DIR: "/dev/null/bin", UPKEEP_INSTALL_ONLY: "1" },
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("UPKEEP_BIN_DIR");
    expect(bad.stderr.toString()).not.toContain("downloading");

    // SIGTERM stops it (exit 143): nothing installed, no temporary files left.
    const slowTmp = tmp("tmp-term");
    const termBin = tmp("bin-term");
    const p = Bun.spawn(["sh", script], {
      env: { ...process.env, UPKEEP_BIN_DIR: termBin, UPKEEP_INSTALL_ONLY: "1", TMPDIR: slowTmp },
      stderr: "pipe",
    });
    const reader = p.stderr.getReader();
    let said = "";
    while (!said.includes("downloading")) {
      const { value, done } = await reader.read();
      if (done) break;
      said += new TextDecoder().decode(value);
    }
    process.kill(p.pid, "SIGTERM");
    expect(await p.exited).toBe(143);
    expect(readdirSync(slowTmp)).toEqual([]);
    expect(readdirSync(termBin)).toEqual([]);
  });

  test("install.sh refuses tampered bytes and installs nothing", async () => {
    const s = await serve(tmp("tamper"), [], { UPKEEP_ADMIN_TOKEN: "x" });
    // A man in the middle that flips one byte of the binary and passes everything else through.
    const mitm = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const r = await fetch(`${s.url}${u.pathname}`);
        if (u.pathname.startsWith("/download/") && !u.pathname.endsWith(".sha256")) {
          const b = new Uint8Array(await r.arrayBuffer());
          b[1000] = (b[1000] ?? 0) ^ 0xff;
          return new Response(b);
        }
        return new Response(await r.text());
      },
    });
    try {
      const script = join(tmp("sh"), "install.sh");
      const text = (await (await fetch(`${s.url}/scripts/install.sh`)).text()).replaceAll(
        s.url,
        `http://127.0.0.1:${mitm.port}`,
      );
      await Bun.write(script, text);
      chmodSync(script, 0o755);
      const bin = tmp("bin");
      // Asynchronous: the man in the middle runs in this process and must keep answering.
      const p = Bun.spawn(["sh", script], {
        env: { ...process.env, UPKEEP_BIN_DIR: bin, UPKEEP_INSTALL_ONLY: "1" },
        stdout: "ignore",
        stderr: "pipe",
      });
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect(code).not.toBe(0);
      expect(stderr).toContain("checksum mismatch");
      expect(existsSync(join(bin, "upkeep"))).toBe(false);
    } finally {
      mitm.stop(true);
    }
  });
});

describe("a canary rollout driven by agent reports (compiled serve, HTTP only)", () => {
  test("start -> canary -> active -> done, group by group, with the find answers agents see", async () => {
    const s = await serve(tmp("rollout"), ["--server-version", "1.1.0", "--reconcile-interval", "200ms"], {
      UPKEEP_ADMIN_TOKEN: "adm",
      UPKEEP_AGENT_TOKEN: "agt",
    });
    const closedHour = (new Date().getUTCHours() + 12) % 24; // windows stay closed: the operator drives
    const admin = { authorization: "Bearer adm", "content-type": "application/yaml" };
    const put = async (kind: string, body: string) =>
      expect(
        (await fetch(`${s.url}/v1/resources/${kind}?force=1`, { method: "PUT", headers: admin, body }))
          .status,
      ).toBe(200);
    await put(
      "autoupdate_config",
      `kind: autoupdate_config\nspec:\n  agents:\n    schedules:\n      regular:\n        - { name: canary, days: ["*"], start_hour: ${closedHour}, canary_count: 1 }\n        - { name: prod, days: ["*"], start_hour: ${closedHour} }\n`,
    );
    await put(
      "autoupdate_version",
      "kind: autoupdate_version\nspec:\n  agents: { start_version: 1.0.0, target_version: 1.1.0 }\n",
    );
    const report = async (id: string, group: string, version: string) => {
      const r = await fetch(`${s.url}/v1/agents/report`, {
        method: "POST",
        headers: { authorization: "Bearer agt", "content-type": "application/json" },
        body: JSON.stringify({ updater_id: id, hostname: `${id}.test`, group, version, state: "ok" }),
      });
      expect(r.status).toBe(200);
    };
    const find = async (group: string, id: string) =>
      (
        (await (await fetch(`${s.url}/v1/webapi/find?group=${group}&updater_id=${id}`)).json()) as {
          auto_update: { agent_version: string; agent_auto_update: boolean };
        }
      ).auto_update;
    const rollout = async () =>
      Object.fromEntries(
        (
          (await (await fetch(`${s.url}/v1/rollout`, { headers: admin })).json()) as {
            groups: { name: string; state: string; canaries: { updater_id: string }[] }[];
          }
        ).groups.map((g) => [g.name, g]),
      );
    const action = async (group: string, what: string) =>
      (await fetch(`${s.url}/v1/rollout/groups/${group}/${what}`, { method: "POST", headers: admin })).status;

    for (const [id, group] of [
      ["c1", "canary"],
      ["c2", "canary"],
      ["p1", "prod"],
    ] as const)
      await report(id, group, "1.0.0");
    expect(await find("canary", "c1")).toMatchObject({ agent_version: "1.0.0", agent_auto_update: false });
    expect(await action("prod", "start")).toBe(409); // the earlier group is not done
    expect(await action("canary", "start")).toBe(200);
    await report("c1", "canary", "1.0.0"); // any report triggers a reconcile, which picks the canary
    let g = await rollout();
    expect(g.canary?.state).toBe("canary");
    const canary = g.canary?.canaries[0]?.updater_id as string;
    const other = canary === "c1" ? "c2" : "c1";
    expect(await find("canary", canary)).toMatchObject({ agent_version: "1.1.0", agent_auto_update: true });
    expect(await find("canary", other)).toMatchObject({ agent_version: "1.0.0", agent_auto_update: false });

    await report(canary, "canary", "1.1.0");
    expect((await rollout()).canary?.state).toBe("active");
    expect(await find("canary", other)).toMatchObject({ agent_version: "1.1.0", agent_auto_update: true });
    await report(other, "canary", "1.1.0");
    g = await rollout();
    expect(g.canary?.state).toBe("done");
    expect(g.prod?.state).toBe("unstarted");
    expect(await find("prod", "p1")).toMatchObject({ agent_version: "1.0.0", agent_auto_update: false });

    expect(await action("prod", "start")).toBe(200);
    expect((await rollout()).prod?.state).toBe("active");
    expect(await find("prod", "p1")).toMatchObject({ agent_version: "1.1.0", agent_auto_update: true });
    await report("p1", "prod", "1.1.0");
    expect((await rollout()).prod?.state).toBe("done");
  });
});

describe("serve configuration", () => {
  test("a config file sets the server; flags override it; unknown keys are refused", async () => {
    const dir = tmp("cfg");
    const cfg = join(dir, "serve.yaml");
    await Bun.write(
      cfg,
      "product: widget\nserver_version: 9.1.0\ncluster_name: lab\nedition: ent\nagent_update_jitter_seconds: 5\n",
    );
    const s = await serve(join(dir, "data"), ["--config", cfg, "--server-version", "9.2.0"], {
      UPKEEP_ADMIN_TOKEN: "x",
    });
    // Agents are told a version (and so an artifact) once a version policy names one (none is published
    // here: ?force=1).
    const put = await fetch(`${s.url}/v1/resources/autoupdate_version?force=1`, {
      method: "PUT",
      headers: { authorization: "Bearer x", "content-type": "application/yaml" },
      body: "kind: autoupdate_version\nspec:\n  agents: { start_version: 9.2.0, target_version: 9.2.0 }\n",
    });
    expect(put.status).toBe(200);
    const body = (await (await fetch(`${s.url}/webapi/ping`)).json()) as {
      server_version: string;
      cluster_name: string;
      edition: string;
      auto_update: { agent_update_jitter_seconds: number };
      upkeep: { artifact: string };
    };
    expect(body.server_version).toBe("9.2.0");
    expect(body.cluster_name).toBe("lab");
    expect(body.edition).toBe("ent");
    expect(body.auto_update.agent_update_jitter_seconds).toBe(5);
    expect(body.upkeep.artifact).toBe("widget-ent-v9.2.0-{os}-{arch}-bin.tar.gz");

    await Bun.write(cfg, "prodcut: widget\n");
    const r = await upkeep(["serve", "--config", cfg, "--data-dir", join(dir, "d2")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown key "prodcut"');
  });

  test("TLS with --tls-cert and --tls-key", async () => {
    const dir = tmp("tls");
    const gen = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stderr: "ignore" },
    );
    expect(gen.exitCode).toBe(0);
    const s = await serve(
      join(dir, "data"),
      ["--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")],
      {
        UPKEEP_ADMIN_TOKEN: "x",
      },
    );
    expect(s.url).toStartWith("https://");
    const r = await fetch(`${s.url}/healthz`, { tls: { rejectUnauthorized: false } });
    expect(r.status).toBe(200);
    const script = await (
      await fetch(`${s.url}/scripts/install.sh`, { tls: { rejectUnauthorized: false } })
    ).text();
    expect(script).toContain(`UPKEEP_SERVER='${s.url}'`);
  });
});
