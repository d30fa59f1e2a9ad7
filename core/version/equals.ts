import { compareVersions } from "./compare_versions.ts";
import type { SemVer } from "./types.ts";

/** Whether two versions have the same precedence (build metadata ignored). */
export function equals(a: SemVer, b: SemVer): boolean {
  return compareVersions(a, b) === 0;
}
