/**
 * Benchmark: verify a large signed file with `dist/upkeep release verify` and with `minisign -Vm`, in the
 * same run, interleaved; report median wall times, their ratio (target <= 1.2) and each one's peak RSS.
 *
 *     npx bun scripts/bench/verify.ts [--size-mib 1024] [--runs 5] [--keep] [--check]
 *
 * The file (random bytes) goes to $TMPDIR/upkeep-bench/; with --keep it is reused by the next run. Both
 * tools read it from the page cache after a warm-up run each. Peak RSS comes from /usr/bin/time -v
 * (Debian package `time`) when present. Also measured: upkeep with its built-in BLAKE2b
 * (UPKEEP_LIBSODIUM=0), for hosts without libsodium. --check exits 1 if the ratio is above 1.2.
 */
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "5" },
    keep: { type: "boolean", default: false },
    check: { type: "boolean", default: false },
  },
});
const SIZE = Number(values["size-mib"]) * 1024 * 1024;
const RUNS = Number(values.runs);
const TARGET = 1.2;
const ROOT = resolve(import.meta.dir, "..", "..");
const UPKEEP = join(ROOT, "dist", "upkeep");
const MINISIGN = Bun.which("minisign");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

if (!existsSync(UPKEEP)) fail(`${UPKEEP} is missing: run \`npm run build\` first`);
if (!MINISIGN) fail("minisign is not installed (apt-get install minisign)");
if (!Number.isFinite(SIZE) || SIZE <= 0 || !Number.isInteger(RUNS) || RUNS < 1)
  fail("bad --size-mib or --runs");

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

interface Sample {
  ms: number;
  rssKiB: number | undefined;
}

async function run(cmd: string[], env: Record<string, string> = {}): Promise<Sample> {
  const argv = TIME ? [TIME, "-v", ...cmd] : cmd;
  const t0 = performance.now();
  const proc = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  const ms = performance.now() - t0;
  if (code !== 0) fail(`${cmd.join(" ")} exited ${code}:\n${stderr}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { ms, rssKiB: m ? Number(m[1]) : undefined };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const dir = join(tmpdir(), "upkeep-bench");
mkdirSync(dir, { recursive: true });
const file = join(dir, `bench-${SIZE}.bin`);
if (!existsSync(file) || statSync(file).size !== SIZE) {
  process.stderr.write(`writing ${SIZE / 1024 / 1024} MiB of random bytes to ${file}...\n`);
  const chunk = new Uint8Array(16 * 1024 * 1024);
  for (let i = 0; i < chunk.length; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));
  const fd = openSync(file, "w");
  for (let off = 0, n = 0; off < SIZE; off += chunk.length, n++) {
    chunk[0] = n & 0xff; // no two chunks alike
    writeSync(fd, chunk, 0, Math.min(chunk.length, SIZE - off));
  }
  closeSync(fd);
}

const keys = join(dir, "keys");
rmSync(keys, { recursive: true, force: true });
await run([UPKEEP, "release", "keygen", "--out-dir", keys, "--unencrypted"]);
const pub = join(keys, "upkeep.pub");
const sign = await run([UPKEEP, "release", "sign", "--key", join(keys, "upkeep.key"), file]);

const tools: [string, string[], Record<string, string>][] = [
  ["upkeep release verify", [UPKEEP, "release", "verify", "--pub", pub, file], {}],
  ["minisign -Vm", [MINISIGN, "-Vm", file, "-p", pub], {}],
  ["upkeep (built-in BLAKE2b)", [UPKEEP, "release", "verify", "--pub", pub, file], { UPKEEP_LIBSODIUM: "0" }],
];
const samples = new Map<string, Sample[]>(tools.map(([name]) => [name, []]));
for (const [, cmd, env] of tools) await run(cmd, env); // warm-up: page cache, binaries
for (let i = 0; i < RUNS; i++) {
  for (const [name, cmd, env] of tools) samples.get(name)?.push(await run(cmd, env));
}

const stat = (name: string) => {
  const s = samples.get(name) ?? [];
  const rss = s.map((x) => x.rssKiB).filter((x): x is number => x !== undefined);
  return { ms: median(s.map((x) => x.ms)), rssMiB: rss.length ? Math.max(...rss) / 1024 : undefined };
};
const upkeep = stat("upkeep release verify");
const minisign = stat("minisign -Vm");
const builtin = stat("upkeep (built-in BLAKE2b)");
const ratio = upkeep.ms / minisign.ms;
const fmt = (s: { ms: number; rssMiB: number | undefined }) =>
  `${(s.ms / 1000).toFixed(3)} s  peak RSS ${s.rssMiB === undefined ? "n/a" : `${s.rssMiB.toFixed(1)} MiB`}`;

console.log(`file: ${file} (${(SIZE / 1024 / 1024).toFixed(0)} MiB), ${RUNS} runs each, median wall time`);
console.log(`sign (upkeep release sign):      ${(sign.ms / 1000).toFixed(3)} s`);
console.log(`upkeep release verify:           ${fmt(upkeep)}`);
console.log(`minisign -Vm:                    ${fmt(minisign)}`);
console.log(`upkeep, built-in BLAKE2b:        ${fmt(builtin)}  (UPKEEP_LIBSODIUM=0)`);
console.log(`ratio upkeep / minisign:         ${ratio.toFixed(2)} (target <= ${TARGET})`);
console.log(`ratio built-in / minisign:       ${(builtin.ms / minisign.ms).toFixed(2)}`);
if (!TIME) console.log("(peak RSS needs /usr/bin/time: apt-get install time)");
if (!values.keep) rmSync(dir, { recursive: true, force: true });
if (values.check && ratio > TARGET) process.exit(1);
