/**
 * Benchmark (issue 18): delta downloads. Patch size against the full artifact, and on a host the time to
 * rebuild and verify from the patch against a full download from loopback nginx, with each one's peak RSS.
 *
 *     npx bun scripts/bench/delta.ts [--rounds 3] [--from-exe A --to-exe B] [--product-mb 40] [--level 19] [--json]
 *
 * Two cases:
 * - upkeep itself: two consecutive builds (`bun scripts/build.ts --version V`) of a copy of the tree's HEAD
 *   (`git archive`), the second with one small source change (a command description) and the next patch
 *   version; or the two executables given. upkeep's own releases are bare executables: the patch is over
 *   their bytes. Goal: the patch under 5% of the gzipped executable.
 * - a multi-file product: two versions packed as `upkeep release pack` does (upkeep's gzip writer), with a
 *   15 MiB "shared library" (pseudo-random bytes, 3 places of 4 KiB changed in the second), 8 data files of
 *   text (one changed), a script and docs (changed), 16 small files (unchanged). The patch is over the
 *   decompressed tar. Goal: under 10% of the full artifact.
 * For each: the patch made with core/sys/delta/make.ts (`upkeep release delta`: zstd --patch-from, Debian's
 * zstd), then, in child processes, medians over the rounds of: a full download from nginx on 127.0.0.1
 * (the installer's downloadArtifact: hashed on the way) and rebuild + verify (core/sys/delta/apply.ts, then
 * the sha256 and BLAKE2b-512 of the result, as the installer checks a rebuilt artifact). Peak RSS of each
 * child from /usr/bin/time (Debian `time`). The patch's own download (a few KiB) is not included. Also the
 * link speed below which the patch is faster than the full download (full bytes / rebuild time).
 * Needs zstd, nginx and time; every process it starts is stopped by PID, its temp folder removed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { END_OF_ARCHIVE, entryHeaders, padding } from "../../core/release/tar_write.ts";
import { applyPatch } from "../../core/sys/delta/apply.ts";
import { makePatch } from "../../core/sys/delta/make.ts";
import { digestFile, hashFile } from "../../core/sys/hash.ts";
import { downloadArtifact } from "../../core/sys/install/download.ts";
import { writeGzip } from "../../core/sys/release/gzip.ts";
import { startNginx } from "../../test/nginx_cdn.ts";
import { noise } from "../fake_bytes.ts";
import { median } from "./_util.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const SELF = join(import.meta.dir, "delta.ts");

// ---- child: one full download, or one rebuild + verify ---------------------------------------------------

async function child(args: string[]): Promise<void> {
  const [kind, a = "", b = "", c = "", d = "0"] = args;
  const t0 = performance.now();
  if (kind === "download") {
    await downloadArtifact({ url: a, path: b, size: Number(d), insecure: false, attempts: 1 });
  } else {
    await applyPatch({ patch: a, base: b, out: c });
    await digestFile(c);
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS }));
}

/**
 * Runs a child under /usr/bin/time for its peak RSS: Linux keeps ru_maxrss across execve, so a child's own
 * getrusage would include this (large) process's memory at the fork.
 */
async function runChild(args: string[]): Promise<{ ms: number; maxRssKb: number }> {
  const time = ["/usr/bin/time", "-f", "maxrss-kb %M"];
  const p = Bun.spawn([...time, process.execPath, SELF, "--child", ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`child ${args[0]} failed (${code}): ${err}`);
  const r = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ms: number };
  return { ms: r.ms, maxRssKb: Number(/maxrss-kb (\d+)/.exec(err)?.[1] ?? "0") };
}

// ---- inputs ----------------------------------------------------------------------------------------------

function text(n: number, seed: number): Uint8Array {
  const words = [
    "upkeep",
    "agent",
    "version",
    "rollout",
    "manifest",
    "window",
    "canary",
    "host",
    "\n",
    "the",
  ];
  const r = noise(n, seed);
  let s = "";
  for (let i = 0; s.length < n; i++) s += `${words[(r[i % n] ?? 0) % words.length]} `;
  return new TextEncoder().encode(s.slice(0, n));
}

/** A product version's files (path -> bytes): `v2` changes a few of them. */
function productFiles(mb: number, v2: boolean): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const lib = noise(Math.round(mb * 0.375 * 1024 * 1024), 1);
  if (v2) for (const at of [0.2, 0.5, 0.8]) lib.set(noise(4096, 99 + at * 10), Math.floor(lib.length * at));
  files.set("bin/hello", new TextEncoder().encode(`#!/bin/sh\necho hello ${v2 ? "2.0.1" : "2.0.0"}\n`));
  files.set("lib/libhello.so", lib);
  for (let i = 0; i < 8; i++) {
    const f = text(Math.round((mb * 0.6 * 1024 * 1024) / 8), 10 + i);
    if (v2 && i === 3) f.set(new TextEncoder().encode("a changed paragraph ".repeat(50)), 1000);
    files.set(`share/data-${i}.txt`, f);
  }
  for (let i = 0; i < 16; i++) files.set(`share/small/${i}.conf`, text(2000, 100 + i));
  files.set("README.md", new TextEncoder().encode(`hello ${v2 ? "2.0.1: fixes" : "2.0.0"}\n`));
  return files;
}

async function packProduct(path: string, files: Map<string, Uint8Array>): Promise<void> {
  async function* entries(): AsyncGenerator<Uint8Array> {
    for (const [name, bytes] of [...files].sort(([x], [y]) => (x < y ? -1 : 1))) {
      const mode = name.startsWith("bin/") ? 0o755 : 0o644;
      yield* entryHeaders({ name: `hello/${name}`, mode, size: bytes.length, type: "0" });
      yield bytes;
      yield padding(bytes.length);
    }
    yield END_OF_ARCHIVE;
  }
  await writeGzip(path, entries());
}

/**
 * Two consecutive builds of upkeep from a copy of this tree's HEAD (`git archive`): 0.18.0, then 0.18.1 after
 * one small source change (a command description).
 */
function buildUpkeep(work: string): { from: string; to: string } {
  const from = join(work, "upkeep-v0.18.0-linux-amd64");
  const to = join(work, "upkeep-v0.18.1-linux-amd64");
  const copy = join(work, "tree");
  mkdirSync(copy);
  execFileSync("sh", ["-c", `git -C '${ROOT}' archive HEAD | tar -x -C '${copy}'`]);
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const build = (version: string, out: string) =>
    execFileSync(process.execPath, [join(copy, "scripts/build.ts"), "--version", version, "--outfile", out], {
      cwd: copy,
      stdio: "ignore",
    });
  build("0.18.0", from);
  const f = join(copy, "cmd/version.ts");
  const src = readFileSync(f, "utf8");
  const changed = src.replace("never skipping a compatibility step", "never skipping any compatibility step");
  if (changed === src) throw new Error("the small source change did not apply (cmd/version.ts changed?)");
  writeFileSync(f, changed);
  build("0.18.1", to);
  return { from, to };
}

async function end(path: string, version: string) {
  const h = await hashFile(path, ["sha256"]);
  return { path, version, name: path.split("/").pop() ?? "", size: h.size, sha256: h.sha256 ?? "" };
}

interface CaseResult {
  case: string;
  full_bytes: number;
  gzipped_bytes: number;
  patch_bytes: number;
  patch_percent_of_gzipped: number;
  goal_percent: number;
  make_ms: number;
  full_download_ms: number;
  rebuild_verify_ms: number;
  full_download_rss_mib: number;
  rebuild_verify_rss_mib: number;
  /** The patch wins on any link slower than this (full bytes over the rebuild time), in Mbit/s. */
  break_even_mbit_s: number;
}

async function measure(
  label: string,
  work: string,
  fromPath: string,
  toPath: string,
  versions: [string, string],
  o: { rounds: number; level: number; goal: number; url: string },
): Promise<CaseResult> {
  const from = await end(fromPath, versions[0]);
  const to = await end(toPath, versions[1]);
  const t0 = performance.now();
  const made = await makePatch({ from, to, out: work, level: o.level });
  const makeMs = performance.now() - t0;
  const toBytes = readFileSync(toPath);
  const gzipped =
    toBytes[0] === 0x1f && toBytes[1] === 0x8b ? toBytes.length : gzipSync(toBytes, { level: 6 }).length;
  const dl: { ms: number; maxRssKb: number }[] = [];
  const ap: { ms: number; maxRssKb: number }[] = [];
  for (let i = 0; i < o.rounds; i++) {
    const part = join(work, `dl-${i}.part`);
    dl.push(await runChild(["download", `${o.url}/${to.name}`, part, "", String(to.size)]));
    rmSync(part, { force: true });
    const out = join(work, `rebuilt-${i}`);
    ap.push(await runChild(["apply", made.path, from.path, out]));
    if ((await hashFile(out, ["sha256"])).sha256 !== to.sha256)
      throw new Error("the rebuilt artifact differs");
    rmSync(out, { force: true });
  }
  const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10;
  return {
    case: label,
    full_bytes: to.size,
    gzipped_bytes: gzipped,
    patch_bytes: made.size,
    patch_percent_of_gzipped: Math.round((made.size / gzipped) * 100_000) / 1000,
    goal_percent: o.goal,
    make_ms: Math.round(makeMs),
    full_download_ms: Math.round(median(dl.map((r) => r.ms))),
    rebuild_verify_ms: Math.round(median(ap.map((r) => r.ms))),
    full_download_rss_mib: mib(median(dl.map((r) => r.maxRssKb))),
    rebuild_verify_rss_mib: mib(median(ap.map((r) => r.maxRssKb))),
    break_even_mbit_s: Math.round((to.size * 8) / 1e6 / (median(ap.map((r) => r.ms)) / 1000)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "boolean", default: false },
      rounds: { type: "string", default: "3" },
      "from-exe": { type: "string" },
      "to-exe": { type: "string" },
      "product-mb": { type: "string", default: "40" },
      level: { type: "string", default: "19" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: false,
  });
  if (values.child) return child(process.argv.slice(process.argv.indexOf("--child") + 1));
  const rounds = Number(values.rounds);
  const level = Number(values.level);
  const work = mkdtempSync(join(tmpdir(), "upkeep-bench-delta-"));
  const served = join(work, "served");
  mkdirSync(served);
  const cdn = await startNginx(served, join(work, "nginx"));
  try {
    const results: CaseResult[] = [];
    // upkeep itself
    const exes =
      values["from-exe"] && values["to-exe"]
        ? { from: String(values["from-exe"]), to: String(values["to-exe"]) }
        : buildUpkeep(work);
    const fromExe = join(served, "upkeep-v0.18.0-linux-amd64");
    const toExe = join(served, "upkeep-v0.18.1-linux-amd64");
    execFileSync("cp", [exes.from, fromExe]);
    execFileSync("cp", [exes.to, toExe]);
    results.push(
      await measure("upkeep executable (two builds)", work, fromExe, toExe, ["0.18.0", "0.18.1"], {
        rounds,
        level,
        goal: 5,
        url: cdn.url,
      }),
    );
    // a multi-file product
    const mb = Number(values["product-mb"]);
    const a = join(served, "hello-v2.0.0-linux-amd64-bin.tar.gz");
    const b = join(served, "hello-v2.0.1-linux-amd64-bin.tar.gz");
    await packProduct(a, productFiles(mb, false));
    await packProduct(b, productFiles(mb, true));
    results.push(
      await measure(`multi-file product (${mb} MiB unpacked)`, work, a, b, ["2.0.0", "2.0.1"], {
        rounds,
        level,
        goal: 10,
        url: cdn.url,
      }),
    );
    if (values.json) console.log(JSON.stringify(results, null, 2));
    else
      for (const r of results)
        console.log(
          `${r.case}: full ${r.full_bytes} bytes (gzipped ${r.gzipped_bytes}), patch ${r.patch_bytes} bytes = ${r.patch_percent_of_gzipped}% of gzipped (goal < ${r.goal_percent}%), made in ${r.make_ms} ms\n  full download from loopback nginx ${r.full_download_ms} ms (peak RSS ${r.full_download_rss_mib} MiB); rebuild + verify ${r.rebuild_verify_ms} ms (peak RSS ${r.rebuild_verify_rss_mib} MiB); medians of ${rounds}\n  the patch is faster than the full download on links below ${r.break_even_mbit_s} Mbit/s`,
        );
  } finally {
    await cdn.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((e) => {
    console.error(`bench delta: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  });
}
