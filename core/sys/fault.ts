/**
 * Fault injection for crash-safety tests. When `UPKEEP_FAULT` names a point (comma-separated list allowed),
 * the process kills itself with SIGKILL on reaching that point: no cleanup handlers run, as in a power cut.
 * Without the variable this is one string comparison.
 *
 * Points are named `<component>:<step>`, e.g. `install:after-download`, `agent:after-switch`.
 */
const faults = process.env.UPKEEP_FAULT ? new Set(process.env.UPKEEP_FAULT.split(",")) : undefined;

export function faultPoint(name: string): void {
  if (faults?.has(name)) process.kill(process.pid, "SIGKILL");
}

/**
 * A pause for race tests: `UPKEEP_FAULT_PAUSE=<point>=<ms>` (comma-separated) makes `faultPause(point)` wait
 * that long, widening a window a test must hit every time. Without the variable this resolves at once.
 */
const pauses = process.env.UPKEEP_FAULT_PAUSE
  ? new Map(
      process.env.UPKEEP_FAULT_PAUSE.split(",").map((p) => {
        const at = p.lastIndexOf("=");
        return [p.slice(0, at), Number(p.slice(at + 1))] as const;
      }),
    )
  : undefined;

export function faultPause(name: string): Promise<void> | undefined {
  const ms = pauses?.get(name);
  return ms !== undefined && ms > 0 ? Bun.sleep(ms) : undefined;
}
