import { compareVersions } from "./compare_versions.ts";
import { isPrerelease } from "./is_prerelease.ts";
import type { SemVer } from "./types.ts";

/** The highest version of `vs` that is not a pre-release, or `undefined` when there is none. */
export function latestStable(vs: readonly SemVer[]): SemVer | undefined {
  let best: SemVer | undefined;
  for (const v of vs) {
    if (isPrerelease(v)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}
