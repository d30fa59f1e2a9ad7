/**
 * Runs a client tool with the same arguments, stdio and environment; forwards SIGINT/SIGTERM/SIGHUP (not the
 * ones the terminal already sent to the tool's process group: see core/tools/forward_signal.ts);
 * answers the tool's exit code (128 + signal when it was killed by one). `whileRunning` is bookkeeping
 * (the last-used mark) done after the tool has started, so it runs beside the tool instead of before it.
 * Throws the spawn error (with its `code`: ENOENT, EACCES...) when the tool cannot be started. For a process
 * that exits when the tool does (the shim): the signal listeners are not removed.
 */
import { FORWARDED_SIGNALS, type ForwardedSignal, shouldForward } from "../../tools/forward_signal.ts";

/** Linux signal numbers (no `node:os` on the hot path), for the 128 + n exit code of a killed tool. */
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

export async function runTool(
  path: string,
  args: string[],
  env: Record<string, string | undefined>,
  whileRunning?: () => Promise<void>,
): Promise<number> {
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let early: ForwardedSignal | undefined;
  const forward = async (sig: ForwardedSignal) => {
    // Only when a signal arrives: is this a Ctrl-C the tool got from the terminal itself?
    let foreground: boolean | undefined;
    if (sig !== "SIGTERM") {
      try {
        foreground = await (await import("../foreground.ts")).inForeground();
      } catch {}
    }
    if (!shouldForward(sig, foreground)) return;
    if (!child) {
      early = sig;
      return;
    }
    try {
      child.kill(sig);
    } catch {}
  };
  // The listeners go in before the tool starts: a signal right after the start (a script that waits for the
  // tool's first line, then stops it) must reach the tool, not kill upkeep and leave the tool running.
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
  child = Bun.spawn([path, ...args], { stdin: "inherit", stdout: "inherit", stderr: "inherit", env });
  if (early) child.kill(early);
  if (whileRunning) await whileRunning().catch(() => {});
  const code = await child.exited;
  // The listeners stay: upkeep exits with the tool's code right after, and removing them would cost ~0.1 ms
  // on that path (measured). A signal arriving now finds the tool gone, which `forward` ignores.
  if (child.signalCode) return 128 + (SIGNAL_NUMBERS[child.signalCode] ?? 0);
  return code;
}
