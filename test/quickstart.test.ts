/**
 * README § Quickstart, run as written: a README change that breaks the journey breaks this test.
 *
 * The section's ```sh blocks are extracted in order. The first must be `npm ci && npm start`: the test runs
 * the real `npm start` (not `npm ci`: the clone is installed already, and reinstalling node_modules under a
 * running test suite would pull the floor from under it) with its own port and data dir, through the
 * variables npm start reads (UPKEEP_LISTEN, UPKEEP_DATA_DIR). The other blocks run in one bash, one after
 * the other, as written, with only the values of the README's own variables replaced: the server URL's
 * port and the data dir the admin token is read from (the walk-through's folder, `QS=$(mktemp -d)`, lands in
 * the test's TMPDIR). Between two blocks the test waits as a reader does: after the block that starts the
 * agent loop, until the loop listens.
 *
 * Then: the host updated (6.0.0 -> 6.1.0), took the broken 6.2.0, rolled back to 6.1.0, which runs; the
 * developer's `hello` runs 6.1.0 through the shim. And `npm start` stops when stopped: a SIGTERM to the
 * `npm start` process frees the port (before, npm exited and left the server on it).
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Subprocess } from "bun";
import { parse as parseYaml } from "yaml";
import { alive, cleanup, waitFor } from "./agent_helpers.ts";
import { ROOT, stopGroup, upkeep } from "./cli.ts";

const README = join(ROOT, "README.md");

/** The ```sh blocks of README § Quickstart, in order. */
export function quickstartBlocks(markdown: string): string[] {
  const start = markdown.indexOf("\n## Quickstart\n");
  if (start < 0) throw new Error("README.md has no `## Quickstart` section");
  const next = markdown.indexOf("\n## ", start + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

/** Replaces exactly one occurrence of `from` (the README must still say it, once). */
function substitute(script: string, from: string, to: string): string {
  const n = script.split(from).length - 1;
  if (n !== 1)
    throw new Error(`README § Quickstart: expected "${from}" once in the shell blocks, found it ${n} times`);
  return script.replace(from, () => to);
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function portAnswers(port: number): Promise<boolean> {
  try {
    const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}

interface Proc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  out: { text: string };
  /** The exit code, once the process exited and its output was read (or 5 s after the exit: something it
   * left running may hold its output open). */
  done: Promise<number>;
}

/** Spawns in its own process group (so everything it starts can be stopped by the group's id). */
function spawnGroup(argv: string[], env: Record<string, string>, cwd = ROOT): Proc {
  const proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  const out = { text: "" };
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const c of s) out.text += dec.decode(c, { stream: true });
  };
  const drained = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const done = proc.exited.then((code) => Promise.race([drained, Bun.sleep(5000)]).then(() => code));
  return { proc, out, done };
}

/** The environment of a fresh shell: none of the caller's UPKEEP_* settings leak in. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("UPKEEP_")) env[k] = v;
  return { ...env, ...extra };
}

/** Starts `npm start` with its own port and data dir; resolves once the server listens. */
async function npmStart(port: number, data: string): Promise<Proc> {
  const p = spawnGroup(
    ["npm", "start"],
    cleanEnv({ UPKEEP_LISTEN: `127.0.0.1:${port}`, UPKEEP_DATA_DIR: data }),
  );
  // It builds first: generous.
  await waitFor(
    "npm start to listen",
    () => /upkeep serve listening/.test(p.out.text) || p.proc.exitCode !== null,
    180_000,
  );
  if (p.proc.exitCode !== null) throw new Error(`npm start exited ${p.proc.exitCode}:\n${p.out.text}`);
  return p;
}

const groups: number[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const g of groups) await stopGroup(g);
  for (const d of dirs) cleanup(d);
});

describe("README § Quickstart", () => {
  test("the blocks are there: npm start first, every command complete", () => {
    const blocks = quickstartBlocks(readFileSync(README, "utf8"));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    expect(blocks[0]?.trim()).toBe("npm ci && npm start");
    for (const b of blocks) {
      // No placeholders: every command runs as written.
      expect(b).not.toMatch(/\.\.\.|<[A-Za-z][^>]*>/);
    }
  });

  test("runs as written: the host updates, rolls back a broken release, the developer's shim follows the cluster", async () => {
    const [first, ...rest] = quickstartBlocks(readFileSync(README, "utf8"));
    expect(first?.trim()).toBe("npm ci && npm start");
    const dir = mkdtempSync(join(tmpdir(), "upkeep-quickstart-"));
    dirs.push(dir);
    const port = await freePort();
    const data = join(dir, "data");
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);

    const server = await npmStart(port, data);
    groups.push(server.proc.pid);
    expect(statSync(join(data, "admin-token")).mode & 0o777).toBe(0o600);
    // npm start prints the next command, the one the README's second block starts with.
    expect(server.out.text).toContain(
      `export UPKEEP_SERVER=http://127.0.0.1:${port} UPKEEP_TOKEN=$(cat ${data}/admin-token) PATH=$PWD/dist:$PATH`,
    );

    // One bash runs the blocks in order, as a reader's second terminal; a marker ends each block.
    let script = "set -eo pipefail\n";
    rest.forEach((block, i) => {
      // No pause after `agent run &`: a command sent while the loop starts waits for it.
      script += `${block}\necho "::quickstart block ${i + 2} done::"\n`;
    });
    script = substitute(
      script,
      "UPKEEP_SERVER=http://127.0.0.1:8080",
      `UPKEEP_SERVER=http://127.0.0.1:${port}`,
    );
    script = substitute(script, "$(cat .upkeep/admin-token)", `$(cat ${data}/admin-token)`);
    // Where the walk-through's folder is (QS=$(mktemp -d)), for the checks below.
    script += 'echo "::QS=$QS::"\n';
    writeFileSync(join(dir, "quickstart.sh"), script);

    const shell = spawnGroup(
      ["bash", join(dir, "quickstart.sh")],
      cleanEnv({ HOME: join(dir, "home"), TMPDIR: tmp }),
    );
    groups.push(shell.proc.pid);
    const code = await Promise.race([shell.done, Bun.sleep(240_000).then(() => "timeout" as const)]);
    const transcript = shell.out.text;
    const qs = /::QS=(.*)::/.exec(transcript)?.[1] ?? readdirSync(tmp).map((n) => join(tmp, n))[0] ?? tmp;
    const log = existsSync(join(qs, "host", "agent.log"))
      ? readFileSync(join(qs, "host", "agent.log"), "utf8")
      : "";
    if (code !== 0 || process.env.UPKEEP_TEST_VERBOSE)
      console.error(`quickstart transcript:\n${transcript}\nagent.log:\n${log}`);
    expect(code).toBe(0);
    for (let i = 2; i <= rest.length + 1; i++) expect(transcript).toContain(`::quickstart block ${i} done::`);

    // The host: updated to 6.1.0, then 6.2.0 was rolled back and skipped; 6.1.0 runs.
    // `agent update --now` right after `agent run &`: the loop does the pass ("updated"), or, when the loop's
    // process has not yet taken its run lock on a loaded machine, the command switches before the loop starts
    // the daemon ("switched"; the loop then starts 6.1.0 and checks it). Both end on 6.1.0, checked below.
    expect(transcript).toMatch(/updated: .*6\.0\.0.*6\.1\.0|switched: switched to 6\.1\.0/);
    expect(transcript).toMatch(/rolledback: .*6\.2\.0/);
    expect(transcript).toContain("exit 1: 6.2.0 failed its health check and was rolled back");
    const root = join(qs, "host", "opt", "default");
    const state = parseYaml(readFileSync(join(root, "update.yaml"), "utf8")) as {
      status: { active: string; skip: string[] };
    };
    expect(state.status.active).toBe("6.1.0");
    expect(state.status.skip).toContain("6.2.0");
    expect(basename(readlinkSync(join(root, "current")))).toBe("6.1.0");
    const daemon = Number(readFileSync(join(root, "daemon.pid"), "utf8").trim().split(/\s+/)[0]);
    expect(alive(daemon)).toBe(true);
    // 6.0.0 ran under the loop unless the update came before the loop started its daemon (see above).
    if (!transcript.includes("switched: switched to 6.1.0")) expect(log).toContain("hello 6.0.0 serving");
    expect(log).toContain("hello 6.2.0: broken, exiting");
    // The last daemon to start is 6.1.0 again.
    expect([...log.matchAll(/hello (\S+) serving/g)].map((m) => m[1]).pop()).toBe("6.1.0");
    const linked = Bun.spawnSync([join(qs, "host", "bin", "hello"), "version"]);
    expect(linked.stdout.toString().trim()).toBe("hello 6.1.0");

    // The server saw it: the host reports 6.1.0, after a rollback of 6.2.0.
    const agents = await upkeep(["admin", "get", "agents", "--json"], {
      env: {
        UPKEEP_SERVER: `http://127.0.0.1:${port}`,
        UPKEEP_TOKEN: readFileSync(join(data, "admin-token"), "utf8"),
      },
    });
    expect(agents.code).toBe(0);
    if (process.env.UPKEEP_TEST_VERBOSE) console.error(agents.stdout);
    const reported = (
      JSON.parse(agents.stdout) as { agents: { version: string; state: string; failed_version: string }[] }
    ).agents;
    expect(reported.map((a) => [a.version, a.state, a.failed_version])).toEqual([
      ["6.1.0", "rolledback", "6.2.0"],
    ]);

    // The developer: `hello` through the shim runs the tools target, 6.1.0, installed in UPKEEP_TOOLS_DIR.
    expect(transcript.trimEnd().split("\n")).toContain("hello 6.1.0");
    expect(existsSync(join(qs, "dev", "tools", "6.1.0", "bin", "hello"))).toBe(true);
    expect(readlinkSync(join(qs, "dev", "bin", "hello"))).toEndWith("upkeep");
  }, 420_000);

  test("npm start stops when stopped: SIGTERM to npm frees the port", async () => {
    const dir = mkdtempSync(join(tmpdir(), "upkeep-npm-start-"));
    dirs.push(dir);
    const port = await freePort();
    const server = await npmStart(port, join(dir, "data"));
    groups.push(server.proc.pid);
    expect(await portAnswers(port)).toBe(true);
    // The leader only (what a terminal, a process manager or `kill PID` stops), not its group.
    process.kill(server.proc.pid, "SIGTERM");
    await server.done;
    // The server drains and exits: the port is free again (before: npm exited and left it behind).
    await waitFor("the port to be free", async () => !(await portAnswers(port)), 20_000);
    expect(server.out.text).toContain("shutting down");
  }, 240_000);
});
