/** The signals a client-tools shim passes on to the tool it started. */
export const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/**
 * Whether the shim should send `signal` on to the tool (its child, in the same process group).
 *
 * A terminal sends SIGINT (Ctrl-C) and SIGHUP (hang-up) to the whole foreground process group, so when the
 * shim is in the foreground of its controlling terminal the tool already got the signal: sending it again
 * would make one Ctrl-C count twice (a tool that force-quits on the second one would force-quit at once).
 * Then the shim only ignores it. Anything else (SIGTERM, or SIGINT/SIGHUP to a shim in the background or
 * without a terminal, e.g. from a supervisor or `kill`) is passed on. `foreground` is undefined when it
 * cannot be told (no libc): passed on, as before.
 */
export function shouldForward(signal: ForwardedSignal, foreground: boolean | undefined): boolean {
  if (signal === "SIGTERM") return true;
  return foreground !== true;
}
