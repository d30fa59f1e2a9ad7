/**
 * A failed system call as a refusal a person can act on. Node and Bun put the errno name (`ENOENT`,
 * `EACCES`...) in `code`; `errorCodeOf` reads it, `ioError` turns the failure into `cannot <what> <path>: <why>`.
 */
import { isUpkeepError, UpkeepError } from "../errors.ts";

/**
 * The `code` a failed call carries: an errno name (`ENOENT`), SQLite's (`SQLITE_FULL`), Bun's fetch's
 * (`ConnectionRefused`); undefined when there is none.
 */
export function errorCodeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && code !== "" ? code : undefined;
}

const WHY: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
};

/**
 * `cannot <what> <path>: <why>` with `e` as the cause: E_NO_SPACE when the disk is full, else E_IO. The why
 * is a few words for the common codes (`no such file`), else the errno name, else the error's message. An
 * UpkeepError is returned as it is (it already says what went wrong).
 */
export function ioError(what: string, path: string, e: unknown, opts: { hint?: string } = {}): UpkeepError {
  if (isUpkeepError(e)) return e;
  const code = errorCodeOf(e);
  const hint = opts.hint === undefined ? {} : { hint: opts.hint };
  if (code === "ENOSPC")
    return new UpkeepError("E_NO_SPACE", `cannot ${what} ${path}: no space left on the device`, {
      cause: e,
      ...hint,
    });
  const why = code === undefined ? (e instanceof Error ? e.message : String(e)) : (WHY[code] ?? code);
  return new UpkeepError("E_IO", `cannot ${what} ${path}: ${why}`, { cause: e, ...hint });
}
