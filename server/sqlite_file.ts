/**
 * The SQLite database file: why it cannot be opened (a refusal naming it), which errors mean a write did not
 * reach the disk, and whether the file opened is still the one at its path (not removed or replaced).
 */
import { statSync } from "node:fs";
import { UpkeepError } from "../core/errors.ts";
import { errorCodeOf } from "../core/sys/io_error.ts";

export interface FileId {
  dev: number;
  ino: number;
}

/** SQLite and system error codes that mean "this process may not write there". */
const DENIED = /READONLY|CANTOPEN|SQLITE_PERM|SQLITE_AUTH|EACCES|EPERM|EROFS/;
/** Codes that mean the write did not reach the disk (full, I/O error). */
export const WRITE_FAILED =
  /READONLY|CANTOPEN|SQLITE_PERM|SQLITE_IOERR|SQLITE_FULL|EACCES|EPERM|EROFS|ENOSPC|EIO/;

export function fileId(path: string): FileId | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Why the database cannot be used at start, as a refusal naming the file (exit 2: the operator fixes it). */
export function openError(path: string, e: unknown): UpkeepError {
  const code = errorCodeOf(e) ?? "";
  const msg = (e as Error).message ?? String(e);
  if (DENIED.test(code) || /readonly|read-only|permission|unable to open/i.test(msg)) {
    return new UpkeepError(
      "E_IO",
      `cannot write the database ${path}: permission denied or read-only (${msg}${code ? `, ${code}` : ""})`,
      {
        cause: e,
        exitCode: 2,
        hint: `serve must write ${path} and create ${path}-wal and ${path}-shm beside it: check the owner and mode (ls -l), immutable flags (lsattr) and that the file system is not mounted read-only`,
      },
    );
  }
  if (/NOTADB|CORRUPT/.test(code)) {
    return new UpkeepError("E_IO", `${path} is not a usable SQLite database: ${msg}`, {
      cause: e,
      exitCode: 2,
      hint: "restore it from a backup, or move it away to start with an empty state",
    });
  }
  return new UpkeepError("E_IO", `cannot open the database ${path}: ${msg}${code ? ` (${code})` : ""}`, {
    cause: e,
  });
}

/** What changed about the opened files, or undefined when they are still in place. */
export function filesChanged(ids: readonly { path: string; id: FileId }[]): string | undefined {
  for (const { path, id } of ids) {
    let now: FileId;
    try {
      const st = statSync(path);
      now = { dev: st.dev, ino: st.ino };
    } catch (e) {
      return errorCodeOf(e) === "ENOENT"
        ? `${path} was removed while serve runs`
        : `${path} cannot be checked (${errorCodeOf(e) ?? String(e)})`;
    }
    if (now.dev !== id.dev || now.ino !== id.ino)
      return `${path} was replaced by another file while serve runs`;
  }
  return undefined;
}
