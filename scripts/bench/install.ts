/**
 * Benchmark (issues 5 and 6): install a 256 MiB release (incompressible padding) with upkeep's installer
 * (manifest fetch and verification, download hashed on the way, signature, sha256 and size checks, safe
 * extraction, fsync, marker, rename) against `curl -s URL | tee >(sha256sum >/dev/null) | tar -xz -C DIR`
 * of the same file in the same run; alternating rounds, medians, the time ratio (target <= 1.2) and the
 * installer's peak RSS (target <= 80 MiB).
 *
 *     npx bun scripts/bench/install.ts [--rounds 3] [--size-mb 256] [--server nginx|python|bun] [--from-source] [--check]
 *
 * - The artifact is made by scripts/fake-release.ts and served on 127.0.0.1 by nginx (1 worker, sendfile)
 *   when installed, else `python3 -m http.server`, else a Bun static server in its own process.
 * - Ours runs as its own process: this script compiled (`bun build --compile`, minified, bytecode: what
 *   `npm run build` does for dist/upkeep) and started with `--child JSON`, calling test/install_child.ts (fetchVerifiedManifest
 *   and installVersion), the same code the agent and `upkeep tools` call; timed from spawn to exit, under
 *   /usr/bin/time -v for the peak RSS (Debian package `time`; installed with apt-get when missing).
 *   --from-source runs it with bun on the TypeScript instead (transpiling costs ~10 MiB more RSS).
 * - The baseline's `>(sha256sum)` is not waited for by bash: the pipeline ends when tar does, which
 *   favours the baseline. Neither side drops the page cache; the server reads the file from it.
 * - Every process it starts is stopped by PID, and its temp folder removed, also on failure or Ctrl-C.
 * - Exit 0 when both targets are met (or without --check), 1 with --check when one is missed, 2 when the
 *   benchmark could not run.
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Subprocess, spawn, spawnSync } from "bun";
import { freePort, median, nginxCommand, stop } from "./_util.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const SELF = join(import.meta.dir, "install.ts");
const TIME_TARGET = 1.2;
const RSS_TARGET_MIB = 80;

function log(s: string): void {
  console.log(s);
}

// ---- child: one install, as the agent or tools would do it ----------------------------------------------

async function childMain(json: string): Promise<void> {
  const { installFromServer } = await import("../../test/install_child.ts");
  const r = await installFromServer(JSON.parse(json));
  if (r.reused) throw new Error("reused a previous install: the benchmark must start clean");
}

// ---- parent ----------------------------------------------------------------------------------------------

function ensureTime(): string {
  if (existsSync("/usr/bin/time")) return "/usr/bin/time";
  log("installing Debian's `time` (apt-get) for the peak RSS ...");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  spawnSync([...sudo, "apt-get", "update", "-qq"], { stdout: "ignore" });
  spawnSync([...sudo, "apt-get", "install", "-y", "-qq", "time"], { stdout: "ignore" });
  if (!existsSync("/usr/bin/time")) throw new Error("/usr/bin/time is missing (apt-get install time)");
  return "/usr/bin/time";
}

const started: Subprocess[] = [];
let dir: string | undefined;

async function cleanup(): Promise<void> {
  for (let p = started.pop(); p; p = started.pop()) await stop(p, "SIGTERM", 5000);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

async function waitFor(url: string, p: Subprocess, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (p.exitCode !== null) throw new Error(`${what} exited (${p.exitCode})`);
    try {
      const r = await fetch(url, { method: "HEAD" });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

async function startServer(kind: string, www: string, work: string): Promise<{ base: string; what: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const nginx = Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);
  const python = Bun.which("python3");
  let choice = kind;
  if (choice === "auto") choice = nginx ? "nginx" : python ? "python" : "bun";
  let p: Subprocess;
  let what: string;
  if (choice === "nginx") {
    if (!nginx) throw new Error("nginx is not installed");
    const http = `  default_type application/octet-stream;
  server { listen 127.0.0.1:${port}; root ${www}; }`;
    p = spawn(nginxCommand(nginx, work, { connections: 64, http }), { stdout: "ignore", stderr: "inherit" });
    what = "nginx (1 worker, sendfile)";
  } else if (choice === "python") {
    if (!python) throw new Error("python3 is not installed");
    p = spawn([python, "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", www], {
      stdout: "ignore",
      stderr: "ignore",
    });
    what = "python3 -m http.server";
  } else {
    const script = join(work, "static.ts");
    writeFileSync(
      script,
      `Bun.serve({ hostname: "127.0.0.1", port: ${port}, fetch(req) {
  const f = Bun.file(${JSON.stringify(www)} + decodeURIComponent(new URL(req.url).pathname));
  return f.size > 0 ? new Response(f) : new Response("not found", { status: 404 });
} });`,
    );
    p = spawn([process.execPath, script], { stdout: "ignore", stderr: "inherit" });
    what = "a Bun static server";
  }
  started.push(p);
  await waitFor(`${base}/hello-releases.json`, p, what);
  return { base, what };
}

function maxRssKiB(stderr: string): number {
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return m ? Number(m[1]) : Number.NaN;
}

type Sample = { ms: number; rssMiB: number };

/** What every round needs: the tools, the served artifact, the key, both sides' programs. */
interface Bench {
  time: string;
  child: string[];
  base: string;
  url: string;
  publicKeyPath: string;
  pubLine: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "3" },
      "size-mb": { type: "string", default: "256" },
      server: { type: "string", default: "auto" },
      check: { type: "boolean", default: false },
      "from-source": { type: "boolean", default: false },
      child: { type: "string" },
    },
  });
  if (values.child) return childMain(values.child);
  const rounds = Number(values.rounds);
  const sizeMb = Number(values["size-mb"]);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(sizeMb) || sizeMb < 1) {
    console.error("bench: bad --rounds or --size-mb");
    process.exit(2);
  }
  const b = await prepare(values.server ?? "auto", sizeMb, values["from-source"] === true, rounds);
  const ours: Sample[] = [];
  const base: number[] = [];
  // The same first install through the real CLI: `dist/upkeep tools exec hello version` with a pinned,
  // logged-in tools dir (issue 6: the first-install time of a 256 MiB release).
  const viaTools: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    const o = oursRound(b, round);
    ours.push(o);
    const t = viaToolsRound(b, round);
    if (t) viaTools.push(t);
    const bms = baselineRound(b, round);
    base.push(bms);
    log(
      `  round ${round}: upkeep ${(o.ms / 1000).toFixed(2)} s (peak RSS ${o.rssMiB.toFixed(1)} MiB)` +
        `   curl|tee(sha256sum)|tar ${(bms / 1000).toFixed(2)} s` +
        (t ? `   upkeep tools exec ${(t.ms / 1000).toFixed(2)} s (peak RSS ${t.rssMiB.toFixed(1)} MiB)` : ""),
    );
  }
  const met = summary(ours, base, viaTools);
  await cleanup();
  if (values.check && !met) process.exit(1);
}

/** The temp folder, a signed release of `sizeMb` MiB served on loopback, and our side compiled. */
async function prepare(
  serverKind: string,
  sizeMb: number,
  fromSource: boolean,
  rounds: number,
): Promise<Bench> {
  const time = ensureTime();
  for (const tool of ["curl", "tar", "sha256sum", "tee", "bash"]) {
    if (!Bun.which(tool)) throw new Error(`${tool} is missing`);
  }
  dir = mkdtempSync(join(tmpdir(), "upkeep-bench-install-"));
  const www = join(dir, "www");
  const { writeKeyPair } = await import("../../core/sys/keys.ts");
  const { makeFakeRelease } = await import("../fake-release.ts");
  const { blake2bBackend } = await import("../../core/sys/sodium.ts");
  const keys = await writeKeyPair(join(dir, "keys"));
  log(`making a ${sizeMb} MiB release (random padding) ...`);
  const rel = await makeFakeRelease({ out: www, versions: ["1.0.0"], key: keys.secretKeyPath, sizeMb });
  const artifact = rel.artifacts[0];
  if (!artifact) throw new Error("no artifact made");
  // Ours runs compiled, with dist/upkeep's build settings, as the agent and tools ship.
  let child = [process.execPath, SELF];
  if (!fromSource) {
    const outfile = join(dir, "install-child");
    const built = await Bun.build({
      entrypoints: [SELF],
      minify: true,
      bytecode: true,
      compile: { outfile },
    });
    if (!built.success) throw new Error(`cannot compile the child: ${built.logs.join("\n")}`);
    child = [outfile];
  }
  const server = await startServer(serverKind, www, dir);
  log(
    `install: ${artifact.name}, ${(artifact.size / 1048576).toFixed(1)} MiB, served by ${server.what} at ${server.base}`,
  );
  log(
    `  upkeep side: ${fromSource ? "bun on the sources" : "compiled (bun build --compile, as dist/upkeep)"}; BLAKE2b: ${blake2bBackend()}; ${rounds} rounds, alternating; medians`,
  );
  const pubLine = (await Bun.file(keys.publicKeyPath).text()).trim().split("\n").at(-1) ?? "";
  return {
    time,
    child,
    base: server.base,
    url: `${server.base}/${artifact.name}`,
    publicKeyPath: keys.publicKeyPath,
    pubLine,
  };
}

/** Our installer, as its own process under /usr/bin/time -v. */
function oursRound(b: Bench, round: number): Sample {
  const ourDir = join(dir ?? "", `ours-${round}`);
  mkdirSync(ourDir, { recursive: true });
  const args = JSON.stringify({
    baseUrl: b.base,
    pub: b.publicKeyPath,
    versionsDir: join(ourDir, "versions"),
    workDir: ourDir,
    version: "1.0.0",
  });
  const t0 = performance.now();
  const r = spawnSync([b.time, "-v", ...b.child, "--child", args], {
    stdout: "pipe",
    stderr: "pipe",
    cwd: ROOT,
  });
  const ms = performance.now() - t0;
  const stderr = r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`our install failed:\n${stderr.split("\n").slice(0, 15).join("\n")}`);
  const extracted = join(ourDir, "versions/1.0.0/share/pad.bin");
  if (!existsSync(extracted)) throw new Error("our install did not produce share/pad.bin");
  rmSync(ourDir, { recursive: true, force: true });
  return { ms, rssMiB: maxRssKiB(stderr) / 1024 };
}

/** `dist/upkeep tools exec hello version` with a pinned, logged-in tools dir; undefined when not built. */
function viaToolsRound(b: Bench, round: number): Sample | undefined {
  const upkeepBin = join(ROOT, "dist", "upkeep");
  if (!existsSync(upkeepBin)) return undefined;
  const toolsDir = join(dir ?? "", `tools-${round}`);
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(
    join(toolsDir, "tools.json"),
    JSON.stringify({
      product: "hello",
      baseUrl: b.base,
      trustKeys: [b.pubLine],
      enrolled: true,
      pinned: "1.0.0",
    }),
  );
  const t2 = performance.now();
  const tr = spawnSync([b.time, "-v", upkeepBin, "tools", "exec", "hello", "version"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, UPKEEP_TOOLS_DIR: toolsDir },
  });
  const tms = performance.now() - t2;
  if (tr.exitCode !== 0 || !tr.stdout.toString().includes("hello v1.0.0")) {
    throw new Error(`upkeep tools exec failed:\n${tr.stderr.toString().split("\n").slice(0, 15).join("\n")}`);
  }
  rmSync(toolsDir, { recursive: true, force: true });
  return { ms: tms, rssMiB: maxRssKiB(tr.stderr.toString()) / 1024 };
}

/** `curl | tee >(sha256sum) | tar -xz`, in milliseconds. */
function baselineRound(b: Bench, round: number): number {
  const baseDir = join(dir ?? "", `base-${round}`);
  mkdirSync(baseDir, { recursive: true });
  const t1 = performance.now();
  const r = spawnSync(
    ["bash", "-c", `curl -s "${b.url}" | tee >(sha256sum >/dev/null) | tar -xz -C "${baseDir}"`],
    {
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  const bms = performance.now() - t1;
  if (r.exitCode !== 0) throw new Error(`baseline failed: ${r.stderr.toString()}`);
  rmSync(baseDir, { recursive: true, force: true });
  return bms;
}

/** Medians, the ratio and the peak RSS against their targets; false when one is missed. */
function summary(ours: Sample[], base: number[], viaTools: Sample[]): boolean {
  const oursMs = median(ours.map((o) => o.ms));
  const baseMs = median(base);
  const rss = Math.max(...ours.map((o) => o.rssMiB));
  const ratio = oursMs / baseMs;
  log(
    `median: upkeep ${(oursMs / 1000).toFixed(2)} s, curl|tee(sha256sum)|tar ${(baseMs / 1000).toFixed(2)} s`,
  );
  log(
    `ratio upkeep/baseline: ${ratio.toFixed(2)}x (target <= ${TIME_TARGET}) ${ratio <= TIME_TARGET ? "ok" : "MISSED"}`,
  );
  log(
    `peak RSS of upkeep: ${rss.toFixed(1)} MiB (max over rounds; target <= ${RSS_TARGET_MIB}) ${rss <= RSS_TARGET_MIB ? "ok" : "MISSED"}`,
  );
  if (viaTools.length > 0) {
    const tMs = median(viaTools.map((o) => o.ms));
    log(
      `upkeep tools exec (first install + run, dist/upkeep): median ${(tMs / 1000).toFixed(2)} s, ratio to baseline ${(tMs / baseMs).toFixed(2)}x, peak RSS ${Math.max(...viaTools.map((o) => o.rssMiB)).toFixed(1)} MiB`,
    );
  } else log("upkeep tools exec: skipped (run `npm run build` first)");
  return !(ratio > TIME_TARGET || rss > RSS_TARGET_MIB);
}

if (import.meta.main) {
  process.once("SIGINT", () => {
    void cleanup().finally(() => process.exit(130));
  });
  main().catch(async (e) => {
    console.error(`bench install: ${e instanceof Error ? e.message : String(e)}`);
    await cleanup();
    process.exit(process.argv.includes("--child") ? 1 : 2);
  });
}
