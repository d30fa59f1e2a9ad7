/**
 * Shared set-up of the agent e2e tests: a real `dist/upkeep serve` on loopback, signed fake releases
 * (scripts/fake-release.ts) published with `dist/upkeep admin publish`, agents enabled in temp folders,
 * `agent run` loops started and stopped by PID.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Subprocess } from "bun";
import { parse as parseYaml } from "yaml";
import { isCompleteVersionDir } from "../core/sys/install/mod.ts";
import { type FakeRelease, makeFakeRelease, type VersionSpec } from "../scripts/fake-release.ts";
import { UPKEEP, upkeep } from "./cli.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";

export const ADMIN = `admin-${crypto.randomUUID()}`;
export const AGENT_TOKEN = `agent-${crypto.randomUUID()}`;
export const STACK = /\bat .*\.(ts|js):\d+|^\s+at\s/m;

export interface World {
  dir: string;
  serve: ServeProcess;
  url: string;
  env: Record<string, string>;
  pub: string;
  key: string;
  release?: FakeRelease;
  stop(): Promise<void>;
}

/** A temp folder, a key pair and a running serve. */
export async function startWorld(prefix: string, serveArgs: string[] = []): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), `upkeep-${prefix}-`));
  const keys = join(dir, "keys");
  const kg = await upkeep(["release", "keygen", "--out-dir", keys, "--unencrypted"]);
  if (kg.code !== 0) throw new Error(kg.stderr);
  // No jitter: the loops' scheduled passes update at once.
  const config = join(dir, "serve.yaml");
  writeFileSync(config, "agent_update_jitter_seconds: 0\n");
  const serve = await startServe(
    join(dir, "data"),
    ["--config", config, "--reconcile-interval", "1s", ...serveArgs],
    {
      UPKEEP_ADMIN_TOKEN: ADMIN,
      UPKEEP_AGENT_TOKEN: AGENT_TOKEN,
    },
  );
  const env = { UPKEEP_SERVER: serve.url, UPKEEP_TOKEN: ADMIN };
  return {
    dir,
    serve,
    url: serve.url,
    env,
    pub: join(keys, "upkeep.pub"),
    key: join(keys, "upkeep.key"),
    stop: async () => {
      await serve.stop();
    },
  };
}

/** Builds signed releases of `hello` and publishes them all (artifacts, .sha256, .minisig, manifest). */
export async function publish(
  w: World,
  versions: (string | VersionSpec)[],
  sub = "release",
  prepare?: (rel: FakeRelease) => void,
): Promise<FakeRelease> {
  const out = join(w.dir, sub);
  const rel = await makeFakeRelease({ out, versions, key: w.key });
  prepare?.(rel);
  const r = await upkeep(["admin", "publish", ...rel.artifacts.map((a) => a.path)], { env: w.env });
  if (r.code !== 0) throw new Error(`publish failed: ${r.stderr}`);
  w.release = rel;
  return rel;
}

/** Sets the agents' start and target versions (immediate unless a schedule is given). */
export async function setTarget(
  w: World,
  target: string,
  start = target,
  schedule = "immediate",
): Promise<void> {
  const r = await upkeep(["admin", "apply", "-f", "-"], {
    env: w.env,
    stdin: `kind: server\nserver_version: 11.9.0\n---\nkind: autoupdate_version\nspec:\n  agents: { start_version: ${start}, target_version: ${target}, schedule: ${schedule}, mode: enabled }\n`,
  });
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
}

export interface Host {
  name: string;
  installDir: string;
  binDir: string;
  root: string;
  where: string[];
  stateFile: string;
  log: string;
}

export function host(w: World, name: string): Host {
  const installDir = join(w.dir, name, "install");
  const binDir = join(w.dir, name, "bin");
  mkdirSync(join(w.dir, name), { recursive: true });
  return {
    name,
    installDir,
    binDir,
    root: join(installDir, "default"),
    where: ["--install-dir", installDir],
    stateFile: join(installDir, "default", "update.yaml"),
    log: join(w.dir, name, "agent.log"),
  };
}

export function enableArgs(w: World, h: Host, extra: string[] = []): string[] {
  return [
    "agent",
    "enable",
    "--server",
    w.url,
    "--product",
    "hello",
    "--base-url",
    `${w.url}/artifacts`,
    "--trust-key",
    w.pub,
    "--token",
    AGENT_TOKEN,
    "--install-dir",
    h.installDir,
    "--bin-dir",
    h.binDir,
    "--service",
    "supervise",
    "--daemon-arg",
    "serve",
    "--health-wait",
    "1500ms",
    ...extra,
  ];
}

export async function enable(w: World, h: Host, extra: string[] = [], env: Record<string, string> = {}) {
  return upkeep(enableArgs(w, h, extra), { env });
}

export async function agent(h: Host, args: string[], env: Record<string, string> = {}) {
  const [sub, ...rest] = args;
  return upkeep(["agent", sub as string, ...h.where, ...rest], { env });
}

export interface Loop {
  proc: Subprocess;
  pid: number;
  /** SIGTERM, wait; SIGKILL if it does not stop in 20 s. */
  stop(): Promise<number | null>;
  log(): string;
}

/** Starts `agent run` with its output in the host's log file; waits for its control socket. */
export async function startLoop(
  h: Host,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Loop> {
  const proc = Bun.spawn([UPKEEP, "agent", "run", ...h.where, "--interval", "1h", ...extra], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: Bun.file(`${h.log}.out`),
    stderr: Bun.file(h.log),
  });
  const sock = join(h.root, "control", "agent.sock");
  const deadline = Date.now() + 10_000;
  while (!existsSync(sock)) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    if (Date.now() > deadline) break;
    await Bun.sleep(20);
  }
  const log = () => (existsSync(h.log) ? readFileSync(h.log, "utf8") : "");
  return {
    proc,
    pid: proc.pid,
    log,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid, "SIGTERM");
        const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
        if (!done) process.kill(proc.pid, "SIGKILL");
      }
      await proc.exited;
      return proc.exitCode;
    },
  };
}

export interface StateDoc {
  spec: Record<string, unknown> & { pinned: boolean; enabled: boolean; updater_id: string };
  status: {
    active: string;
    backup: string;
    skip: string[];
    updating?: { from: string; to: string; rolling_back?: { reason: string } };
    last_result: string;
    last_error: string;
  };
}

export function readStateFile(h: Host): StateDoc {
  return parseYaml(readFileSync(h.stateFile, "utf8")) as StateDoc;
}

/** The version folder `current` points at. */
export function currentDir(h: Host): string | undefined {
  try {
    return basename(readlinkSync(join(h.root, "current")));
  } catch {
    return undefined;
  }
}

/** A complete version folder (the install module's check: a folder with its completion marker). */
export function isComplete(h: Host, name: string): boolean {
  return isCompleteVersionDir(join(h.root, "versions", name));
}

/** Version folders (not temp or hidden ones). */
export function versionDirs(h: Host): string[] {
  try {
    return readdirSync(join(h.root, "versions"))
      .filter((n) => !n.startsWith("."))
      .sort();
  } catch {
    return [];
  }
}

/** The supervised daemon's PID (from daemon.pid), 0 when none. */
export function daemonPid(h: Host): number {
  try {
    return Number(readFileSync(join(h.root, "daemon.pid"), "utf8").trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

export function alive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The version the running daemon says it is (`hello` writes HELLO_STATE at start). */
export function daemonVersion(stateFile: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(stateFile, "utf8")) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Kills a leftover daemon of a host (test cleanup), by the PID in daemon.pid. */
export function killDaemon(h: Host): void {
  const pid = daemonPid(h);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

export function cleanup(dir: string): void {
  if (process.env.UPKEEP_TEST_KEEP === "1") return void console.log(`kept ${dir}`);
  rmSync(dir, { recursive: true, force: true });
}
