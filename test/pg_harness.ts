/**
 * A throwaway PostgreSQL for tests: Debian's `postgresql` package (initdb + postgres from
 * /usr/lib/postgresql/VERSION/bin, or UPKEEP_PG_BIN), a data dir in a temp dir, a free 127.0.0.1 port, its
 * unix socket inside the temp dir, trust authentication, run as the `postgres` user when the tests run as
 * root. The postmaster is started directly (no pg_ctl, no fork) so its PID is known, and it is stopped by
 * that PID: SIGINT (fast shutdown), SIGKILL after 20 s. A test process that dies leaves no server behind (an
 * exit hook sends SIGQUIT to every server still running).
 *
 * Test files gate on `pgAvailable()` (or `pgGate()`): without the package the PostgreSQL tests skip with a
 * message saying how to enable them; with env CI set they fail instead.
 */

import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/upkeep (database `upkeep`, created empty). */
  url: string;
  /** The postmaster's PID (changes at each start). */
  pid: number;
  port: number;
  /** Stops the server (fast shutdown) and removes its temp dir. */
  stop(): Promise<void>;
  /** Stops then starts the server again on the same port and data (what a database restart looks like). */
  restart(): Promise<void>;
  /** Stops the server, keeping its data: clients see the database go away. */
  stopServer(): Promise<void>;
  /** Starts it again (same port, same data). */
  startServer(): Promise<void>;
  /** Creates another empty database on this server; answers its URL. */
  createDatabase(name?: string): Promise<string>;
}

/** Tests under CI must not skip: env CI set (and not "0"/"false"). */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

const HOW =
  "install Debian's postgresql package (apt-get install postgresql; .ci/run does) or point UPKEEP_PG_BIN at a directory holding initdb and postgres";

function versionOf(dir: string): number {
  return Number.parseFloat(dir) || 0;
}

/** The directory holding initdb and postgres, or undefined. */
export function pgBinDir(): string | undefined {
  const given = process.env.UPKEEP_PG_BIN;
  if (given)
    return existsSync(join(given, "initdb")) && existsSync(join(given, "postgres")) ? given : undefined;
  const base = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(base).sort((a, b) => versionOf(b) - versionOf(a));
  } catch {
    // not installed there
  }
  for (const v of versions) {
    const dir = join(base, v, "bin");
    if (existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres"))) return dir;
  }
  const onPath = Bun.which("initdb");
  if (onPath && Bun.which("postgres")) return onPath.replace(/\/initdb$/, "");
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const r = Bun.spawnSync(["id", "-u", "postgres"], { stdout: "pipe", stderr: "ignore" });
  const g = Bun.spawnSync(["id", "-g", "postgres"], { stdout: "pipe", stderr: "ignore" });
  if (r.exitCode !== 0 || g.exitCode !== 0) return undefined;
  return { uid: Number(r.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) };
}

/** Undefined when a throwaway PostgreSQL can be started here, else why not and how to enable it. */
export function pgAvailable(): string | undefined {
  const bin = pgBinDir();
  if (!bin && process.env.UPKEEP_PG_BIN)
    return `UPKEEP_PG_BIN=${process.env.UPKEEP_PG_BIN} holds no initdb and postgres: point it at PostgreSQL's bin directory, or unset it to use /usr/lib/postgresql/*/bin`;
  if (!bin) return `PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): ${HOW}`;
  if (isRoot()) {
    if (!postgresUser())
      return "running as root, PostgreSQL must run as the `postgres` user, which does not exist: install the postgresql package (it creates the user)";
    if (!Bun.which("setpriv"))
      return "running as root and setpriv (util-linux) is missing to start PostgreSQL as `postgres`";
  }
  return undefined;
}

/**
 * For a test file: true when its PostgreSQL tests must skip (and says why on stderr, once per file).
 * Under CI a missing PostgreSQL throws instead: those tests must run there.
 */
export function pgSkip(file = "these tests"): boolean {
  const why = pgAvailable();
  if (why === undefined) return false;
  if (underCi()) throw new Error(`PostgreSQL tests cannot run under CI: ${why}`);
  console.error(`[skip] ${file}: PostgreSQL tests skipped: ${why}`);
  return true;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the server to take). */
async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Every postmaster started and not yet stopped: killed if the test process exits. */
const running = new Set<number>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const pid of running) {
      try {
        process.kill(pid, "SIGQUIT"); // immediate shutdown: children exit with it
      } catch {
        // already gone
      }
    }
  });
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const dec = new TextDecoder();
  try {
    for await (const chunk of stream) sink.text += dec.decode(chunk, { stream: true });
  } catch {
    // the process went away
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a throwaway PostgreSQL server with an empty database `upkeep`. `settings` (name: value) are passed as
 * `-c name=value` after the test defaults below, so they override them (the fleet benchmark keeps fsync on).
 */
export async function startPostgres(settings: Record<string, string> = {}): Promise<Postgres> {
  const why = pgAvailable();
  if (why) throw new Error(why);
  const bin = pgBinDir() as string;
  const user = isRoot() ? postgresUser() : undefined;
  const asUser = (argv: string[]): string[] =>
    user
      ? [
          "setpriv",
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--init-groups",
          "--reset-env",
          "--",
          ...argv,
        ]
      : argv;
  const dir = mkdtempSync(join(tmpdir(), "upkeep-pg-"));
  const data = join(dir, "data");
  const sock = join(dir, "sock");
  mkdirSync(sock);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(sock, user.uid, user.gid);
  }
  const init = Bun.spawnSync(
    asUser([
      join(bin, "initdb"),
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--locale=C",
      "-N",
    ]),
    { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } },
  );
  if (init.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.exitCode}): ${init.stderr.toString()}${init.stdout.toString()}`);
  }
  let port = await freePort();
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  const log = { text: "" };

  const startServer = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      log.text = "";
      const p = Bun.spawn(
        asUser([
          join(bin, "postgres"),
          "-D",
          data,
          "-p",
          String(port),
          "-k",
          sock,
          "-c",
          "listen_addresses=127.0.0.1",
          // A test server: speed over crash safety of the test machine (a crash of PostgreSQL itself still
          // keeps committed data: the WAL is written, just not fsynced to the disk).
          "-c",
          "fsync=off",
          "-c",
          "full_page_writes=off",
          "-c",
          "max_connections=200",
          ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
        ]),
        { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } },
      );
      void collect(p.stdout, log);
      void collect(p.stderr, log);
      running.add(p.pid);
      hookExit();
      const deadline = Date.now() + 30_000;
      while (!/ready to accept connections/.test(log.text) && p.exitCode === null && Date.now() < deadline)
        await Bun.sleep(20);
      if (/ready to accept connections/.test(log.text)) {
        proc = p;
        return;
      }
      running.delete(p.pid);
      if (p.exitCode === null) {
        process.kill(p.pid, "SIGKILL");
        await p.exited;
      }
      // Someone took the port between asking and binding: another port, a few times.
      if (/could not (bind|create listen)/i.test(log.text) && attempt < 5) {
        port = await freePort();
        continue;
      }
      throw new Error(`PostgreSQL did not start (exit ${p.exitCode}): ${log.text}`);
    }
  };

  const stopServer = async (): Promise<void> => {
    const p = proc;
    if (!p) return;
    proc = undefined;
    if (p.exitCode === null && alive(p.pid)) {
      process.kill(p.pid, "SIGINT"); // fast shutdown: clients are disconnected, data is kept
      const killed = setTimeout(() => {
        if (p.exitCode === null) process.kill(p.pid, "SIGKILL");
      }, 20_000);
      await p.exited;
      clearTimeout(killed);
    }
    running.delete(p.pid);
  };

  const admin = (db: string) => new Bun.SQL(`postgres://postgres@127.0.0.1:${port}/${db}`, { max: 1 });

  try {
    await startServer();
    const sql = admin("postgres");
    try {
      await sql.unsafe("CREATE DATABASE upkeep");
    } finally {
      await sql.close();
    }
  } catch (e) {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let dbCount = 0;
  const handle: Postgres = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/upkeep`;
    },
    get pid() {
      return proc?.pid ?? 0;
    },
    get port() {
      return port;
    },
    stopServer,
    startServer: async () => {
      if (proc) return;
      await startServer();
    },
    restart: async () => {
      await stopServer();
      await startServer();
    },
    stop: async () => {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
    createDatabase: async (name?: string) => {
      const db = name ?? `upkeep_${++dbCount}`;
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`not a plain database name: ${db}`);
      const sql = admin("postgres");
      try {
        await sql.unsafe(`CREATE DATABASE ${db}`);
      } finally {
        await sql.close();
      }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
  };
  return handle;
}
