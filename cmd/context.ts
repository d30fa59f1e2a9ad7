/** The state a command hands back to main.ts: its exit code. Commands never call process.exit. */
let exitCode = 0;

export function setExitCode(code: number): void {
  exitCode = code;
}

export function takeExitCode(): number {
  const code = exitCode;
  exitCode = 0;
  return code;
}
