import type { SemVer } from "./types.ts";

/** Whether `v` is a pre-release (`7.0.0-rc.1`); pre-releases are never picked automatically. */
export function isPrerelease(v: SemVer): boolean {
  return v.prerelease.length > 0;
}
