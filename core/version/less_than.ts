import { compareVersions } from "./compare_versions.ts";
import type { SemVer } from "./types.ts";

/** Whether `a` has a lower precedence than `b`. */
export function lessThan(a: SemVer, b: SemVer): boolean {
  return compareVersions(a, b) < 0;
}
