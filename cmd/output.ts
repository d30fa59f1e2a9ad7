/**
 * Output helpers: every command that reports something takes `--json`; plain text otherwise.
 * Writes are synchronous on the file descriptors (no `process.stdout`, whose stream set-up costs start-up
 * time in Bun), so output is complete before main.ts exits.
 */
import { writeSync } from "node:fs";
import { printableText } from "../core/text/printable.ts";

/** Writes all of `text` to fd 1 (stdout) or 2 (stderr). */
export function writeFd(fd: 1 | 2, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off);
}
export interface JsonFlag {
  json?: boolean;
}

/**
 * Prints a line (or lines) on stdout. Control characters other than newlines and tabs are escaped: text from
 * a server or a file cannot reach the terminal raw. A value that must stay on its line goes through
 * `printable` where it is put in.
 */
export function print(line: string): void {
  const safe = printableText(line);
  writeFd(1, safe.endsWith("\n") ? safe : `${safe}\n`);
}

/** The same on stderr. */
export function warn(line: string): void {
  const safe = printableText(line);
  writeFd(2, safe.endsWith("\n") ? safe : `${safe}\n`);
}

/** Prints `data` as JSON when `--json` is set, else the text `toText(data)` produces. */
export function report<T>(opts: JsonFlag, data: T, toText: (data: T) => string): void {
  if (opts.json) print(JSON.stringify(data, null, 2));
  else print(toText(data));
}

/**
 * Runs `work`; when it fails with a coded error and `--json` is set, the failure is also printed on stdout as
 * `{"code", "reason", "hint"?}` (a script reading stdout learns why), then the error goes on to main.ts
 * (stderr line, exit code) as usual.
 */
export async function jsonFailure<T>(
  opts: JsonFlag,
  work: () => Promise<T>,
  extra: Record<string, unknown> = {},
): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const { isUpkeepError } = await import("../core/errors.ts");
    if (opts.json && isUpkeepError(e))
      print(
        JSON.stringify(
          { ...extra, code: e.code, reason: e.message, ...(e.hint ? { hint: e.hint } : {}) },
          null,
          2,
        ),
      );
    throw e;
  }
}
