import { compareVersions } from "./compare_versions.ts";
import type { SemVer } from "./types.ts";

/** Returns a new array sorted by ascending precedence; the input is not modified. */
export function sortVersions(vs: readonly SemVer[]): SemVer[] {
  return [...vs].sort(compareVersions);
}
