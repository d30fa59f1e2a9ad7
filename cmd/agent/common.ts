/** What the `upkeep agent` subcommands share: the namespace flags, the log, pass results, asking a running loop. */
import type { Command } from "commander";
import type { PassResult } from "../../core/agent/pass_result.ts";
import type { ControlRequest } from "../../core/sys/agent/control.ts";
import { printable } from "../../core/text/printable.ts";
import { warn } from "../output.ts";

export interface Where {
  installDir?: string;
  namespace?: string;
  json?: boolean;
}

export function where(cmd: Command): Command {
  return cmd
    .option(
      "--install-dir <dir>",
      "where versions and update.yaml live (default /opt/upkeep, or UPKEEP_INSTALL_DIR)",
    )
    .option("--namespace <ns>", "one agent per namespace on a host (default `default`)");
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export async function durationFlag(text: string, flag: string): Promise<number> {
  const { tryParseDuration } = await import("../../core/duration.ts");
  const { UsageError } = await import("../../core/errors.ts");
  const ms = tryParseDuration(text);
  if (ms === undefined)
    throw new UsageError(`${flag} ${JSON.stringify(text)}: use a duration such as 10s, 5m`);
  return ms;
}

/** Progress and log lines go to stderr, each with a timestamp (the loop's output is its log). */
export const logSync = (m: string) => warn(`${new Date().toISOString()} upkeep agent: ${printable(m)}`);

/** Prints a pass result; exit 1 for a failed or rolled-back update, and for an unreachable server. */
export async function showResult(opts: { json?: boolean }, r: PassResult): Promise<void> {
  const { report } = await import("../output.ts");
  const { setExitCode } = await import("../context.ts");
  const { formatPassResult } = await import("../../core/agent/pass_result.ts");
  report(opts, r, (x) => formatPassResult(x, printable));
  if (r.outcome === "failed" || r.outcome === "rolledback" || r.outcome === "error") setExitCode(1);
}

/** Whether an `agent run` loop holds the namespace's run lock (running, starting or stopping). */
async function loopHoldsRunLock(l: { runLockFile: string }): Promise<boolean> {
  const { acquireLock } = await import("../../core/sys/lock.ts");
  const { isUpkeepError } = await import("../../core/errors.ts");
  try {
    (await acquireLock(l.runLockFile, { waitMs: 0, what: "agent (is a loop running?)" })).release();
    return false;
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_LOCKED") return true;
    return false; // cannot tell (lock file unreadable): the namespace lock still keeps passes apart
  }
}

/**
 * Asks the running loop; undefined when there is none (the caller does the work itself). A loop takes its run
 * lock before its socket listens (it recovers and starts its daemon first): while it holds the lock without
 * listening, wait for it (up to `waitMs`). A one-shot pass beside a starting loop switched `current` under
 * the loop's daemon without restarting it.
 */
export async function loopAnswer<T>(
  l: { socket: string; runLockFile: string },
  req: ControlRequest,
  waitMs = 60_000,
): Promise<T | undefined> {
  const { askLoop } = await import("../../core/sys/agent/control.ts");
  const { UpkeepError } = await import("../../core/errors.ts");
  let r = await askLoop(l.socket, req, 30 * 60_000);
  const end = Date.now() + waitMs;
  while (r === undefined && Date.now() < end && (await loopHoldsRunLock(l))) {
    await Bun.sleep(100);
    r = await askLoop(l.socket, req, 30 * 60_000);
  }
  if (r === undefined) return undefined;
  if (!r.ok) {
    const e = r.error ?? { code: "E_INTERNAL", message: "the agent run loop refused" };
    throw new UpkeepError(e.code as never, e.message, e.hint ? { hint: e.hint } : {});
  }
  return r.result as T;
}
