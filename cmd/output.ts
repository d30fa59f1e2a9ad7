/** Output helpers: every command that reports something takes `--json`; plain text otherwise. */
export interface JsonFlag {
  json?: boolean;
}

export function print(line: string): void {
  process.stdout.write(line.endsWith("\n") ? line : `${line}\n`);
}

export function warn(line: string): void {
  process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
}

/** Prints `data` as JSON when `--json` is set, else the text `toText(data)` produces. */
export function report<T>(opts: JsonFlag, data: T, toText: (data: T) => string): void {
  if (opts.json) print(JSON.stringify(data, null, 2));
  else print(toText(data));
}
