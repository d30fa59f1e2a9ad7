/**
 * Shared set-up of the agent and tools e2e tests: a real `dist/upkeep serve` on loopback, signed fake
 * releases (scripts/fake-release.ts) published with `dist/upkeep admin publish`, agents enabled in temp
 * folders, `agent run` loops started and stopped by PID, developers logged in with `tools login`. A test
 * file takes one world with `useWorld`, which also stops everything in it after the file's tests.
 */
import { afterAll, beforeAll } from "bun:test";
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
import { writeSelfRelease } from "../core/sys/self/self_release.ts";
import {
  type FakeRelease,
  type FakeReleaseOptions,
  makeFakeRelease,
  type VersionSpec,
} from "../scripts/fake-release.ts";
import { collect, UPKEEP, upkeep } from "./cli.ts";
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
  /** The hosts made with `host`, the loops started on them, the mirrors: closeWorld stops them all. */
  hosts: Host[];
  loops: Loop[];
  mirrors: Mirror[];
  /** Stops serve (the folder stays). */
  stop(): Promise<void>;
}

export interface WorldOptions {
  serveArgs?: string[];
  /** serve.yaml settings over the helpers' own (no jitter: the loops' scheduled passes update at once). */
  config?: Record<string, number>;
}

/** The autoupdate_config section that turns client tools updates on (every world's config has it). */
export const TOOLS_ON = "kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n";

/** A temp folder, a key pair and a running serve (client tools updates on: TOOLS_ON). */
export async function startWorld(prefix: string, o: WorldOptions = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), `upkeep-${prefix}-`));
  const keys = join(dir, "keys");
  const kg = await upkeep(["release", "keygen", "--out-dir", keys, "--unencrypted"]);
  if (kg.code !== 0) throw new Error(kg.stderr);
  const config = join(dir, "serve.yaml");
  const settings = { agent_update_jitter_seconds: 0, ...o.config };
  writeFileSync(
    config,
    Object.entries(settings)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join(""),
  );
  const serve = await startServe(
    join(dir, "data"),
    ["--config", config, "--reconcile-interval", "1s", ...(o.serveArgs ?? [])],
    {
      UPKEEP_ADMIN_TOKEN: ADMIN,
      UPKEEP_AGENT_TOKEN: AGENT_TOKEN,
    },
  );
  const env = { UPKEEP_SERVER: serve.url, UPKEEP_TOKEN: ADMIN };
  // Client tools follow the server's tools version only when the autoupdate_config says so (Teleport's
  // default is off): the worlds' developers are enrolled.
  const tools = await upkeep(["admin", "apply", "-f", "-"], { env, stdin: TOOLS_ON });
  if (tools.code !== 0) {
    await serve.stop();
    throw new Error(`apply failed: ${tools.stderr}`);
  }
  return {
    dir,
    serve,
    url: serve.url,
    env,
    pub: join(keys, "upkeep.pub"),
    key: join(keys, "upkeep.key"),
    hosts: [],
    loops: [],
    mirrors: [],
    stop: async () => {
      await serve.stop();
    },
  };
}

/** A mirror of the world's server on loopback (stopped when the world closes). */
export interface Mirror {
  /** `http://127.0.0.1:PORT`: a base URL or a server URL for hosts and developers. */
  url: string;
  /** Requests so far, by path. */
  requests: Map<string, number>;
  stop(): void;
}

/**
 * Starts a mirror that counts the requests by path and passes them on to serve (method, body, Range,
 * Authorization, Content-Type). `before` may answer instead (a mirror that is down, a hostile answer);
 * `after` may change serve's answer (corrupt bytes, a slow download).
 */
export function startMirror(
  w: World,
  o: {
    before?: (path: string) => Response | undefined;
    after?: (path: string, r: Response) => Response | Promise<Response>;
  } = {},
): Mirror {
  const requests = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      requests.set(path, (requests.get(path) ?? 0) + 1);
      const early = o.before?.(path);
      if (early) return early;
      const headers = new Headers();
      for (const name of ["range", "authorization", "content-type"]) {
        const v = req.headers.get(name);
        if (v) headers.set(name, v);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const r = await fetch(`${w.url}${path}${url.search}`, {
        method: req.method,
        headers,
        ...(hasBody ? { body: await req.arrayBuffer() } : {}),
      });
      return o.after ? o.after(path, r) : r;
    },
  });
  const mirror = { url: `http://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) };
  w.mirrors.push(mirror);
  return mirror;
}

/** Stops the world's mirrors, loops, the daemons of its hosts and serve; removes its folder. */
export async function closeWorld(w: World): Promise<void> {
  for (const m of w.mirrors) m.stop();
  for (const l of w.loops) await l.stop();
  for (const h of w.hosts) killDaemon(h);
  await w.stop();
  cleanup(w.dir);
}

/**
 * The test file's world (or a describe block's): started before its tests, then `setup` (publish, targets,
 * hosts); closed after them (closeWorld), whatever the tests left running.
 */
export function useWorld(prefix: string, setup: (w: World) => Promise<void>, o: WorldOptions = {}): void {
  let world: World | undefined;
  beforeAll(async () => {
    world = await startWorld(prefix, o);
    await setup(world);
  });
  afterAll(async () => {
    if (world) await closeWorld(world);
  });
}

/**
 * Builds signed releases of `hello` in `<world>/<sub>` and publishes them all (artifacts, .sha256, .minisig,
 * manifest); `prepare` may drop some first, `options` sets the manifest's serial, floor, the sizes...
 */
export async function publish(
  w: World,
  versions: (string | VersionSpec)[],
  sub = "release",
  prepare?: (rel: FakeRelease) => void,
  options: Partial<FakeReleaseOptions> = {},
): Promise<FakeRelease> {
  const out = join(w.dir, sub);
  const rel = await makeFakeRelease({ ...options, out, versions, key: w.key });
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

/** `upkeep admin ARGS` on the world's server as its admin (throws with its stderr when it fails). */
export async function adminOk(w: World, args: string[], stdin?: string) {
  const r = await upkeep(["admin", ...args], { env: w.env, ...(stdin === undefined ? {} : { stdin }) });
  if (r.code !== 0) throw new Error(`admin ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/** An hour whose window is far from now: no group starts on its own while a test runs. */
export const FAR_HOUR = (new Date().getUTCHours() + 12) % 24;

/**
 * A regular rollout of the agents from `start` to `target` over `groups` (name -> more group fields, e.g.
 * `canary_count: 1`), every window far from now: a group starts when the operator says so.
 */
export async function setRollout(
  w: World,
  groups: Record<string, string>,
  start: string,
  target: string,
): Promise<void> {
  const lines = Object.entries(groups)
    .map(([name, more]) => `        - { name: ${name}, days: ["*"], start_hour: ${FAR_HOUR}, ${more} }\n`)
    .join("");
  await adminOk(
    w,
    ["apply", "-f", "-"],
    `kind: autoupdate_config\nspec:\n  tools: { mode: enabled }\n  agents:\n    mode: enabled\n    strategy: halt-on-error\n    schedules:\n      regular:\n${lines}---\nkind: server\nserver_version: 11.9.0\n---\nkind: autoupdate_version\nspec:\n  agents: { start_version: ${start}, target_version: ${target}, schedule: regular, mode: enabled }\n`,
  );
}

/** The client tools' target version on the world's server (autoupdate_version spec.tools). */
export async function setToolsTarget(w: World, version: string, ...flags: string[]): Promise<void> {
  const r = await upkeep(["admin", "apply", ...flags, "-f", "-"], {
    env: w.env,
    stdin: `kind: autoupdate_version\nspec:\n  tools: { target_version: ${version} }\n`,
  });
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
}

/** A developer using the client tools: HOME and its tools folder, and the environment that names them. */
export interface Developer {
  home: string;
  tools: string;
  bin: string;
  /** No UPKEEP_SERVER or UPKEEP_TOKEN from the shell running the tests. */
  env: Record<string, string> & { HOME: string; UPKEEP_TOOLS_DIR: string };
}

let developers = 0;

/** A developer with a fresh HOME in the world's folder (removed with it). */
export function developer(w: World): Developer {
  const home = join(w.dir, "developers", String(++developers));
  mkdirSync(home, { recursive: true });
  const tools = join(home, "tools");
  return {
    home,
    tools,
    bin: join(home, "bin"),
    env: { HOME: home, UPKEEP_TOOLS_DIR: tools, UPKEEP_SERVER: "", UPKEEP_TOKEN: "" },
  };
}

/** A new developer, logged in to the world's server (throws with its stderr when the login fails). */
export async function loggedInDeveloper(w: World, extra: string[] = []): Promise<Developer> {
  const u = developer(w);
  const r = await toolsLogin(w, u.env, extra);
  if (r.code !== 0) throw new Error(`tools login failed: ${r.stderr}`);
  return u;
}

/** `upkeep tools login` to the world's server, trusting its release key; `extra` flags last (a later one wins). */
export function toolsLogin(w: World, env: Record<string, string>, extra: string[] = []) {
  return upkeep(["tools", "login", "--server", w.url, "--product", "hello", "--trust-key", w.pub, ...extra], {
    env,
  });
}

export interface Host {
  name: string;
  installDir: string;
  binDir: string;
  root: string;
  where: string[];
  stateFile: string;
  log: string;
  /** The world's loops: startLoop adds the loop it starts. */
  loops: Loop[];
}

/** A host of the world (its folders under the world's); its daemon is killed when the world closes. */
export function host(w: World, name: string): Host {
  const installDir = join(w.dir, name, "install");
  const binDir = join(w.dir, name, "bin");
  mkdirSync(join(w.dir, name), { recursive: true });
  const h: Host = {
    name,
    installDir,
    binDir,
    root: join(installDir, "default"),
    where: ["--install-dir", installDir],
    stateFile: join(installDir, "default", "update.yaml"),
    log: join(w.dir, name, "agent.log"),
    loops: w.loops,
  };
  w.hosts.push(h);
  return h;
}

/** A host with `agent enable` done (throws with its stderr when enable fails). */
export async function enabledHost(
  w: World,
  name: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Host> {
  const h = host(w, name);
  const r = await enable(w, h, extra, env);
  if (r.code !== 0) throw new Error(r.stderr);
  return h;
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

/**
 * Starts `agent run` with its output in the host's log file; waits for its control socket. `exe`: the upkeep
 * executable to run (default dist/upkeep; the self-update tests start the host's bin link).
 */
export async function startLoop(
  h: Host,
  extra: string[] = [],
  env: Record<string, string> = {},
  exe = UPKEEP,
): Promise<Loop> {
  const proc = Bun.spawn([exe, "agent", "run", ...h.where, "--interval", "1h", ...extra], {
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
  const loop: Loop = {
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
  h.loops.push(loop);
  return loop;
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

/**
 * Builds upkeep stamped with `version` at `outfile`, trusting `testSelfKey` (a .pub) for upkeep's own
 * releases (scripts/build.ts --version --test-self-key): two of them tell an updater from its successor.
 */
export async function buildUpkeep(version: string, outfile: string, testSelfKey: string): Promise<string> {
  const p = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "..", "scripts", "build.ts"),
      "--version",
      version,
      "--outfile",
      outfile,
      "--test-self-key",
      testSelfKey,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`build of ${version} failed: ${err}`);
  return outfile;
}

/**
 * A mirror of the world's server that also hosts upkeep's own releases from `dir` (under /artifacts/, as
 * serve would once they are published) and names `updater.version` in its find answers
 * (`upkeep.updater_version`); `tamper` changes an executable's bytes on the way.
 */
export interface SelfMirror extends Mirror {
  updater: { version: string; tamper?: (name: string, bytes: Uint8Array) => Uint8Array };
}

export function startSelfMirror(w: World, dir: string): SelfMirror {
  const updater: SelfMirror["updater"] = { version: "" };
  const m = startMirror(w, {
    before: (path) => {
      const name = path.startsWith("/artifacts/upkeep-") ? path.slice("/artifacts/".length) : "";
      if (!name || name.includes("/") || !existsSync(join(dir, name))) return undefined;
      const bytes = new Uint8Array(readFileSync(join(dir, name)));
      return new Response(updater.tamper ? updater.tamper(name, bytes) : bytes);
    },
    after: async (path, r) => {
      if (path !== "/v1/webapi/find" || !r.ok) return r;
      const doc = (await r.json()) as { upkeep?: Record<string, unknown> };
      if (updater.version) doc.upkeep = { ...doc.upkeep, updater_version: updater.version };
      return Response.json(doc);
    },
  });
  return { ...m, updater };
}

/** What stampedBuilds made: the builds' folder, upkeep's signed release folder and the mirror hosting it. */
export interface SelfBuilds {
  /** `<builds>/<version>/upkeep`. */
  builds: string;
  releases: string;
  mirror: SelfMirror;
}

/**
 * The self-update world (test/agent_self_update*.test.ts): hello 11.0.0 published and targeted, two builds of
 * upkeep stamped `old` and `next` (trusting the world's key), signed as upkeep's own release (serial 1) and
 * hosted by a SelfMirror.
 */
export async function stampedBuilds(w: World, old: string, next: string): Promise<SelfBuilds> {
  await publish(w, ["11.0.0"]);
  await setTarget(w, "11.0.0");
  const builds = join(w.dir, "builds");
  await Promise.all([
    buildUpkeep(old, join(builds, old, "upkeep"), w.pub),
    buildUpkeep(next, join(builds, next, "upkeep"), w.pub),
  ]);
  const releases = join(w.dir, "self-release");
  await writeSelfRelease({
    out: releases,
    key: w.key,
    serial: 1,
    executables: [
      { path: join(builds, old, "upkeep"), version: old },
      { path: join(builds, next, "upkeep"), version: next },
    ],
  });
  return { builds, releases, mirror: startSelfMirror(w, releases) };
}

/** Runs `exe ARGS` (a host's own upkeep, not dist/upkeep). */
export function runExe(exe: string, args: string[]) {
  return collect(Bun.spawn([exe, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
}

/** A host whose upkeep is a copy of `build` at `<bin>/upkeep` (as install.sh leaves it), enabled with it against `server`. */
export async function hostOnBuild(
  w: World,
  name: string,
  build: string,
  server: string,
  extra: string[] = [],
): Promise<Host & { exe: string }> {
  const h = host(w, name);
  mkdirSync(h.binDir, { recursive: true });
  const exe = join(h.binDir, "upkeep");
  writeFileSync(exe, readFileSync(build), { mode: 0o755 });
  const r = await runExe(
    exe,
    enableArgs(w, h, ["--server", server, "--base-url", `${server}/artifacts`, ...extra]),
  );
  if (r.code !== 0) throw new Error(r.stderr);
  return { ...h, exe };
}
