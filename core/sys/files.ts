/** Small-file I/O for the trust formats: size-capped reads, atomic writes with a mode. */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { UpkeepError } from "../errors.ts";
import { decodeUtf8 } from "../trust/encoding.ts";
import { errorCodeOf, ioError } from "./io_error.ts";

/** Reads a file of at most `max` bytes; a larger one is E_MALFORMED, an unreadable one E_IO. */
export async function readCapped(path: string, max: number, what: string): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw ioError("read", path, e);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile())
      throw ioError("read", path, Object.assign(new Error("not a regular file"), { code: "EISDIR" }));
    if (s.size > max) throw new UpkeepError("E_MALFORMED", `${what} ${path} is larger than ${max} bytes`);
    // Read one byte more than allowed, so a file that grew since stat() is still refused.
    const buf = new Uint8Array(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) throw new UpkeepError("E_MALFORMED", `${what} ${path} is larger than ${max} bytes`);
    }
    return buf.slice(0, n);
  } catch (e) {
    throw ioError("read", path, e);
  } finally {
    await fh.close();
  }
}

/** Reads a UTF-8 text file of at most `max` bytes. */
export async function readTextCapped(path: string, max: number, what: string): Promise<string> {
  return decodeUtf8(await readCapped(path, max, what), `${what} ${path}`);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface WriteOptions {
  /** File mode, applied whatever the umask. Default 0o644. */
  mode?: number;
  /** Replace an existing file; otherwise an existing file is E_EXISTS. */
  overwrite?: boolean;
}

/** Flushes a directory so a rename or link in it survives a power cut (best effort: not every FS allows it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

/**
 * Writes `data` to `path` atomically: a temporary file beside it (created with `mode`, flushed), then
 * renamed over the target, or hard-linked to it when not overwriting so an existing file is never replaced.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: WriteOptions = {},
): Promise<void> {
  const mode = opts.mode ?? 0o644;
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (e) {
      const code = errorCodeOf(e);
      if (code === "EEXIST" || code === "ENOTDIR")
        throw new UpkeepError("E_IO", `cannot write ${path}: ${dirname(path)} is not a directory`, {
          cause: e,
        });
      throw e;
    }
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.overwrite) {
      await rename(tmp, path);
    } else {
      try {
        await link(tmp, path);
      } catch (e) {
        if (errorCodeOf(e) === "EEXIST") {
          throw new UpkeepError("E_EXISTS", `${path} already exists`, { hint: "pass --force to replace it" });
        }
        throw e;
      }
      await unlink(tmp);
    }
    await chmod(path, mode);
    await syncDir(dirname(path));
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw ioError("write", path, e);
  }
}
