/**
 * Streaming file digests: one pass, fixed memory whatever the size (two 1 MiB buffers; the next read is in
 * flight while the current chunk is hashed).
 */
import { open, stat } from "node:fs/promises";
import type { FileDigests } from "../trust/verify_release.ts";
import { ioError } from "./io_error.ts";
import { type StreamingHash, sodiumBlake2b512 } from "./sodium.ts";

const CHUNK = 1 << 20;

export type Algorithm = "sha256" | "blake2b512";

export interface HashResult {
  size: number;
  sha256?: string;
  blake2b512?: Uint8Array;
}

function builtin(algorithm: Algorithm): StreamingHash {
  const h = new Bun.CryptoHasher(algorithm);
  return {
    update: (data) => {
      h.update(data);
    },
    digest: () => new Uint8Array(h.digest()),
  };
}

/** A streaming hasher: BLAKE2b-512 through libsodium when available, else Bun's; sha256 always Bun's. */
export function hasher(algorithm: Algorithm): StreamingHash {
  return (algorithm === "blake2b512" ? sodiumBlake2b512() : undefined) ?? builtin(algorithm);
}

/** Hashes `path` with each of `algorithms` in one streaming pass. I/O problems are E_IO. */
export async function hashFile(path: string, algorithms: readonly Algorithm[]): Promise<HashResult> {
  const hashes = algorithms.map((a) => [a, hasher(a)] as const);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw ioError("read", path, e);
  }
  let size = 0;
  try {
    let current = new Uint8Array(CHUNK);
    let spare = new Uint8Array(CHUNK);
    let pending = fh.read(current, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const chunk = current.subarray(0, bytesRead);
      pending = fh.read(spare, 0, CHUNK, null);
      for (const [, h] of hashes) h.update(chunk);
      size += bytesRead;
      [current, spare] = [spare, current];
    }
  } catch (e) {
    throw ioError("read", path, e);
  } finally {
    await fh.close();
  }
  const out: HashResult = { size };
  for (const [a, h] of hashes) {
    const d = h.digest();
    if (a === "sha256") out.sha256 = Buffer.from(d).toString("hex");
    else out.blake2b512 = d;
  }
  return out;
}

/** Size, SHA-256 and BLAKE2b-512 of a file, as core/trust's verifyArtifact wants them. */
export async function digestFile(path: string): Promise<FileDigests> {
  const r = await hashFile(path, ["sha256", "blake2b512"]);
  return { size: r.size, sha256: r.sha256 ?? "", blake2b512: r.blake2b512 ?? new Uint8Array() };
}

/** The size of a regular file (E_IO if missing or not a regular file). */
export async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile())
      throw Object.assign(new Error("not a regular file"), { code: s.isDirectory() ? "EISDIR" : undefined });
    return s.size;
  } catch (e) {
    throw ioError("read", path, e);
  }
}
