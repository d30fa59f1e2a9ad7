import { errorCodeOf } from "./io_error.ts";

/** Says in a few words why a request did not get an answer (never Bun's raw "Is the computer able to..."). */
export function networkWhy(e: unknown): string {
  const code = errorCodeOf(e);
  const name = (e as { name?: string }).name;
  if (name === "TimeoutError" || name === "AbortError") return "timed out";
  if (code === "ConnectionRefused" || code === "ECONNREFUSED") return "connection refused";
  if (code === "FailedToOpenSocket" || code === "ENOTFOUND" || code === "EAI_NONAME") return "host not found";
  if (code === "ECONNRESET" || code === "ConnectionClosed") return "connection closed";
  return code ?? (e instanceof Error ? e.message : String(e));
}
