/** Server log lines on stderr, as text (`time level msg k=v`) or JSON, one line each, control characters escaped. */
import { writeSync } from "node:fs";
import { printable } from "../core/text/printable.ts";

export type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

export function createLogger(format: "text" | "json", now: () => Date = () => new Date()): LogFn {
  return (msg, fields = {}) => {
    const time = now().toISOString();
    let line: string;
    if (format === "json") line = JSON.stringify({ time, msg, ...fields });
    else {
      const kv = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "string" && /^[!-~]+$/.test(v) ? v : JSON.stringify(v)}`)
        .join(" ");
      line = `${time} ${msg}${kv ? ` ${kv}` : ""}`;
    }
    // Messages and fields carry what agents and admins sent: one line, no terminal escapes (still valid JSON).
    line = printable(line);
    try {
      writeSync(2, `${line}\n`);
    } catch {
      // A closed stderr must not take the server down.
    }
  };
}
