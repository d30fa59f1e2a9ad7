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
