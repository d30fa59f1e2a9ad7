/**
 * Output helpers: every command that reports something takes `--json`; plain text otherwise.
 * Writes are synchronous on the file descriptors (no `process.stdout`, whose stream set-up costs start-up
 * time in Bun), so output is complete before main.ts exits.
 */
import { writeSync } from "node:fs";

/** Writes all of `text` to fd 1 (stdout) or 2 (stderr). */
export function writeFd(fd: 1 | 2, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off);
}
export interface JsonFlag {
  json?: boolean;
}

export function print(line: string): void {
  writeFd(1, line.endsWith("\n") ? line : `${line}\n`);
}

export function warn(line: string): void {
  writeFd(2, line.endsWith("\n") ? line : `${line}\n`);
}

/** Prints `data` as JSON when `--json` is set, else the text `toText(data)` produces. */
export function report<T>(opts: JsonFlag, data: T, toText: (data: T) => string): void {
  if (opts.json) print(JSON.stringify(data, null, 2));
  else print(toText(data));
}
