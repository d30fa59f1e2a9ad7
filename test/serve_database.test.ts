/**
 * The database of a running `dist/upkeep serve` removed or replaced under it, and a database it may not
 * write at start (immutable, or owned by another user): writes answer 503 naming the file (logged), reads go
 * on from memory; a start on a database it cannot write exits 2 naming the path.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, UPKEEP, upkeep } from "./cli.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

const ADMIN = "admin-token-db-test";
const AGENT = "agent-token-db-test";
const started: ServeProcess[] = [];
const immutable: string[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
  for (const p of immutable) Bun.spawnSync(["chattr", "-i", p]);
});

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `upkeep-${p}-`));

async function serve(dir: string): Promise<ServeProcess> {
  const s = await startServe(dir, ["--server-version", "1.0.0"], {
    UPKEEP_ADMIN_TOKEN: ADMIN,
    UPKEEP_AGENT_TOKEN: AGENT,
  });
  started.push(s);
  return s;
}

const call = (s: ServeProcess, method: string, path: string, body?: unknown, token = ADMIN) =>
  fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });

/** Runs `cmd` for at most `ms` (then SIGTERM by its pid): the exit code, or null when it was still running. */
async function runFor(cmd: string[], ms: number): Promise<{ code: number | null; stderr: string }> {
  const p = Bun.spawn(cmd, {
    env: { ...process.env, UPKEEP_ADMIN_TOKEN: ADMIN },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const r = await collect(p, { ms, signal: "SIGTERM" });
  return { code: r.timedOut ? null : r.code, stderr: r.stderr };
}

/** Writes that must be refused once the database is gone, each with what it would have changed. */
async function expectWritesRefused(s: ServeProcess, db: string): Promise<void> {
  const writes: [string, string, unknown, string?][] = [
    ["POST", "/v1/tokens", { type: "agent", name: "lost" }],
    ["PUT", "/v1/server", { server_version: "2.0.0" }],
    ["POST", "/v1/releases", { version: "1.0.0", critical: true }],
    ["POST", "/v1/agents/report", { updater_id: "h1", hostname: "h1", version: "1.0.0", state: "ok" }, AGENT],
    ["PUT", "/v1/artifacts/hello-v2.0.0-linux-amd64-bin.tar.gz", "bytes that must not be kept"],
  ];
  for (const [method, path, body, token] of writes) {
    const r = await call(s, method, path, body, token);
    const text = await r.text();
    expect(`${method} ${path} -> ${r.status}`).toBe(`${method} ${path} -> 503`);
    expect(text).toContain(db);
  }
}

describe("serve notices its database removed or replaced while it runs", () => {
  test("removed (upkeep.db*): every write answers 503 naming the file, logged once; reads answer from memory; admin apply fails", async () => {
    const dir = tmp("db-gone");
    const db = join(dir, "upkeep.db");
    const s = await serve(dir);
    // A write before: kept.
    expect((await call(s, "POST", "/v1/releases", { version: "0.9.0", critical: true })).status).toBe(200);
    for (const f of readdirSync(dir)) if (f.startsWith("upkeep.db")) rmSync(join(dir, f));

    await expectWritesRefused(s, db);
    const apply = await upkeep(["admin", "apply", "-f", "-"], {
      env: { UPKEEP_SERVER: s.url, UPKEEP_TOKEN: ADMIN },
      stdin: "kind: server\nserver_version: 3.0.0\n",
    });
    expect(apply.code).not.toBe(0);
    expect(apply.stderr).toContain("503");
    expect(apply.stderr).toContain(db);
    expect(apply.stdout).not.toContain("applied");
    expect(existsSync(join(dir, "artifacts", "hello-v2.0.0-linux-amd64-bin.tar.gz"))).toBe(false);

    // Reads still answer, from memory, and show that nothing was half-applied.
    const server = (await (await call(s, "GET", "/v1/server")).json()) as { server_version: string };
    expect(server.server_version).toBe("1.0.0");
    const releases = (await (await call(s, "GET", "/v1/releases")).json()) as { critical: string[] };
    expect(releases.critical).toEqual(["0.9.0"]);
    expect((await fetch(`${s.url}/webapi/find?group=x`)).status).toBe(200);
    // Alive, but not ready: what it is given is not kept.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain(db);

    // One log line names the file, however many writes were refused.
    const lines = s
      .stderr()
      .split("\n")
      .filter((l) => l.includes("database unavailable"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(`${db} was removed`);
  });

  test("replaced by another file at the same path: writes answer 503 naming it", async () => {
    const dir = tmp("db-replaced");
    const db = join(dir, "upkeep.db");
    const s = await serve(dir);
    copyFileSync(db, join(dir, "copy.db"));
    renameSync(join(dir, "copy.db"), db);
    const r = await call(s, "POST", "/v1/tokens", { type: "agent" });
    expect(r.status).toBe(503);
    expect(await r.text()).toContain(`${db} was replaced`);
    expect(s.stderr()).toContain(`${db} was replaced`);
  });
});

/** chattr +i works here (root, and a file system with the immutable flag). */
function chattrWorks(): boolean {
  const d = tmp("chattr");
  const f = join(d, "probe");
  writeFileSync(f, "");
  const on = Bun.spawnSync(["chattr", "+i", f], { stderr: "ignore" }).exitCode === 0;
  Bun.spawnSync(["chattr", "-i", f], { stderr: "ignore" });
  return on;
}

const canRunAsNobody =
  process.getuid?.() === 0 && Bun.spawnSync(["setpriv", "--version"], { stdout: "ignore" }).exitCode === 0;

describe("a database serve cannot write at start: exit 2 naming the path", () => {
  test.skipIf(!chattrWorks())(
    "immutable upkeep.db (chattr +i; skipped where chattr +i does not work)",
    async () => {
      const dir = tmp("db-immutable");
      const db = join(dir, "upkeep.db");
      // A database made by a first start, then made immutable (the WAL is gone after a clean stop).
      const s = await serve(dir);
      expect(await s.stop()).toBe(0);
      expect(Bun.spawnSync(["chattr", "+i", db]).exitCode).toBe(0);
      immutable.push(db);
      try {
        const r = await runFor([UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir], 20_000);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`cannot write the database ${db}`);
        expect(r.stderr).toContain("read-only");
        expect(r.stderr).not.toContain("internal error");

        // A fresh data dir whose (empty) database file is immutable: the same.
        const fresh = tmp("db-immutable-fresh");
        writeFileSync(join(fresh, "upkeep.db"), "");
        expect(Bun.spawnSync(["chattr", "+i", join(fresh, "upkeep.db")]).exitCode).toBe(0);
        immutable.push(join(fresh, "upkeep.db"));
        const f = await runFor([UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", fresh], 20_000);
        expect(f.code).toBe(2);
        expect(f.stderr).toContain(`cannot write the database ${join(fresh, "upkeep.db")}`);
      } finally {
        Bun.spawnSync(["chattr", "-i", db]);
      }
    },
  );

  test.skipIf(!canRunAsNobody)(
    "serve run as nobody on root's data dir (skipped unless root with setpriv)",
    async () => {
      const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
      const top = tmp("db-nobody");
      chmodSync(top, 0o755);

      // The data dir itself is root's (0755): nobody cannot even take the lock.
      const closed = join(top, "closed");
      mkdirSync(closed, { mode: 0o755 });
      const c = await runFor(
        [...asNobody, UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", closed],
        20_000,
      );
      expect(c.code).toBe(2);
      expect(c.stderr).toContain(`cannot write the data dir ${closed}`);

      // The dir is open to all, but the database in it is root's (0644, from a start as root).
      const open = join(top, "open");
      mkdirSync(open);
      const s = await serve(open);
      expect(await s.stop()).toBe(0);
      rmSync(join(open, "serve.lock"));
      chmodSync(open, 0o777);
      const db = join(open, "upkeep.db");
      chmodSync(db, 0o644);
      const r = await runFor(
        [...asNobody, UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", open],
        20_000,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot write the database ${db}`);
      expect(r.stderr).not.toContain("internal error");
    },
  );
});
