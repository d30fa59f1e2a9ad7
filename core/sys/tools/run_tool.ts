/**
 * Runs a client tool with the same arguments, stdio and environment; forwards SIGINT/SIGTERM/SIGHUP;
 * answers the tool's exit code (128 + signal when it was killed by one).
 */
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

export async function runTool(
  path: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const child = Bun.spawn([path, ...args], { stdin: "inherit", stdout: "inherit", stderr: "inherit", env });
  const forward = (sig: NodeJS.Signals) => {
    try {
      child.kill(sig);
    } catch {}
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const code = await child.exited;
  for (const sig of FORWARDED) process.off(sig, forward);
  if (child.signalCode) return 128 + (SIGNAL_NUMBERS[child.signalCode] ?? 0);
  return code;
}
