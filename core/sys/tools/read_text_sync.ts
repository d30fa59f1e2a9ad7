/**
 * Small files on the shim's hot path, read synchronously without loading a module: `Bun.mmap` (measured:
 * ~0.1 ms, against ~1.1 ms for the async `Bun.file().text()` and ~1.5 ms to load `node:fs`). `Bun.mmap` opens
 * the file read-write, so a file this user may only read (a shared, admin-managed tools dir) is read the slow
 * way instead (test/tools_readonly.test.ts).
 */
import { errorCodeOf, ioError } from "../io_error.ts";

/** The text of the file at `path`; undefined when there is none. Other failures are ioError's. */
export function readTextSync(path: string): string | undefined {
  try {
    return new TextDecoder().decode(Bun.mmap(path, { shared: false }));
  } catch (e) {
    const code = errorCodeOf(e);
    if (code === "ENOENT") return undefined;
    if (code === "EINVAL" && Bun.file(path).size === 0) return ""; // an empty file cannot be mapped
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return readOnly(path);
    throw ioError("read", path, e);
  }
}

/** Reads a file this process may not open for writing (loads `node:fs`: only off the usual path). */
function readOnly(path: string): string {
  try {
    return require("node:fs").readFileSync(path, "utf8");
  } catch (e) {
    throw ioError("read", path, e);
  }
}
