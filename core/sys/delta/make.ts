/**
 * Making a patch (`upkeep release delta`): `zstd --patch-from` (Debian's zstd, on the release engineer's
 * machine only: hosts apply patches inside upkeep, ./apply.ts) between the two artifacts, or between what they
 * decompress to when the new one is a gzip file upkeep's own gzip writer gives back exactly (every archive
 * `upkeep release pack` and scripts/fake-release.ts write). The patch is applied once before it is kept: what
 * it rebuilds must be the new artifact, byte for byte.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants, mkdtempSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, join } from "node:path";
import { createGunzip } from "node:zlib";
import {
  encodePatchHeader,
  MAX_DELTA_BYTES,
  type PatchEnd,
  type PatchHeader,
  patchFileName,
} from "../../delta/patch.ts";
import { UpkeepError, UsageError } from "../../errors.ts";
import { hashFile } from "../hash.ts";
import { ioError } from "../io_error.ts";
import { writeGzip } from "../release/gzip.ts";
import { applyPatch } from "./apply.ts";

export interface MakePatchOptions {
  /** The old artifact, as hosts verified it. */
  from: PatchEnd & { path: string };
  /** The new artifact. */
  to: PatchEnd & { path: string };
  /** Folder the patch is written to. */
  out: string;
  /** zstd level (default 19). */
  level?: number;
  /** The zstd executable (default `zstd` on PATH, or UPKEEP_ZSTD). */
  zstd?: string;
}

export interface MadePatch {
  path: string;
  name: string;
  size: number;
  sha256: string;
  header: PatchHeader;
  /** Why the patch is over the raw bytes of gzip artifacts (they are not upkeep's gzip), if it is. */
  note?: string;
}

/** gzip levels tried to give the new artifact back: writeGzip's default, stored (padded test releases), best. */
const LEVELS = [6, 0, 9];

function isGzip(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const b = new Uint8Array(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** Decompresses `src` into `dst`; its size, or undefined past MAX_DELTA_BYTES or when it is not gzip. */
async function gunzipTo(src: string, dst: string): Promise<number | undefined> {
  const input = (await open(src, "r")).createReadStream({ highWaterMark: 1 << 20 });
  const out = await open(dst, "w", 0o600);
  let n = 0;
  try {
    const gz = input.pipe(createGunzip({ chunkSize: 1 << 20 }));
    for await (const chunk of gz as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      if (n > MAX_DELTA_BYTES) return undefined;
      await out.write(chunk);
    }
    return n;
  } catch {
    return undefined;
  } finally {
    input.destroy();
    await out.close();
  }
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const fh = await open(path, "r");
  try {
    for (;;) {
      const buf = new Uint8Array(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** The zlib level at which upkeep's gzip writer gives `want` back from `tar`, if any. */
async function gzipLevel(tar: string, want: PatchEnd, tmp: string): Promise<number | undefined> {
  for (const level of LEVELS) {
    const p = join(tmp, `regzip-${level}`);
    await writeGzip(p, fileChunks(tar), { level });
    const h = await hashFile(p, ["sha256"]);
    rmSync(p, { force: true });
    if (h.size === want.size && h.sha256 === want.sha256) return level;
  }
  return undefined;
}

function windowLog(bytes: number): number {
  return Math.min(31, Math.max(20, Math.ceil(Math.log2(bytes + 1))));
}

async function runZstd(
  o: MakePatchOptions,
  base: string,
  target: string,
  frame: string,
  size: number,
): Promise<void> {
  const exe = o.zstd ?? process.env.UPKEEP_ZSTD ?? "zstd";
  const args = [
    exe,
    "-q",
    "-f",
    `-${o.level ?? 19}`,
    `--long=${windowLog(size)}`,
    `--patch-from=${base}`,
    target,
    "-o",
    frame,
  ];
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
  } catch (e) {
    throw new UsageError(`cannot run ${exe}: ${(e as Error).message}`, {
      code: "E_NOT_FOUND",
      hint: "install zstd 1.5 or later (Debian: apt-get install zstd), or set UPKEEP_ZSTD to its path; only the release machine needs it",
    });
  }
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr as ReadableStream).text()]);
  if (code !== 0)
    throw new UpkeepError(
      "E_IO",
      `${exe} --patch-from failed (exit ${code}): ${err.trim().split("\n").slice(-2).join(" ")}`,
    );
}

/** Writes `<out>/<to.name>.from-<from.version>.patch`, checked by applying it. */
export async function makePatch(o: MakePatchOptions): Promise<MadePatch> {
  const name = patchFileName(o.to.name, o.from.version);
  const tmp = mkdtempSync(join(o.out, `.delta-${randomBytes(4).toString("hex")}-`));
  try {
    let content: "raw" | "gzip" = "raw";
    let base = o.from.path;
    let target = o.to.path;
    let baseBytes = o.from.size;
    let targetBytes = o.to.size;
    let level: number | undefined;
    let note: string | undefined;
    if (isGzip(o.from.path) && isGzip(o.to.path)) {
      const [b, t] = [join(tmp, "base.tar"), join(tmp, "target.tar")];
      const [bn, tn] = [await gunzipTo(o.from.path, b), await gunzipTo(o.to.path, t)];
      level = tn === undefined ? undefined : await gzipLevel(t, o.to, tmp);
      if (bn !== undefined && tn !== undefined && level !== undefined) {
        [content, base, target, baseBytes, targetBytes] = ["gzip", b, t, bn, tn];
      } else {
        note = `${o.to.name} is not gzip as upkeep writes it (upkeep release pack): the patch is over its compressed bytes, and larger`;
        level = undefined;
      }
    }
    if (baseBytes > MAX_DELTA_BYTES || targetBytes > MAX_DELTA_BYTES)
      throw new UsageError(
        `cannot make a patch between files over ${MAX_DELTA_BYTES} bytes (hosts would need too much memory to apply it)`,
      );
    const header: PatchHeader = {
      from: { version: o.from.version, name: o.from.name, size: o.from.size, sha256: o.from.sha256 },
      to: { version: o.to.version, name: o.to.name, size: o.to.size, sha256: o.to.sha256 },
      content,
      ...(level === undefined ? {} : { gzip_level: level }),
      base_bytes: baseBytes,
      target_bytes: targetBytes,
    };
    const frame = join(tmp, "frame.zst");
    await runZstd(o, base, target, frame, Math.max(baseBytes, targetBytes));
    const staged = join(tmp, name);
    const fh = await open(staged, "w", 0o644);
    try {
      await fh.write(encodePatchHeader(header));
      for await (const c of fileChunks(frame)) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Applied once, as a host would: the rebuilt bytes must be the new artifact's.
    const check = join(tmp, "check");
    await applyPatch({ patch: staged, base: o.from.path, out: check });
    const got = await hashFile(check, ["sha256"]);
    if (got.size !== o.to.size || got.sha256 !== o.to.sha256)
      throw new UpkeepError(
        "E_INTERNAL",
        `the patch does not rebuild ${o.to.name} (got sha256 ${got.sha256}); nothing was written`,
      );
    const path = join(o.out, name);
    try {
      renameSync(staged, path);
    } catch (e) {
      throw ioError("write", path, e);
    }
    const h = await hashFile(path, ["sha256"]);
    return {
      path,
      name: basename(path),
      size: statSync(path).size,
      sha256: h.sha256 ?? "",
      header,
      ...(note ? { note } : {}),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
