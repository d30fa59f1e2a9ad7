import type { SemVer } from "./types.ts";

/** Formats a version as `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, never with a leading `v`. */
export function formatVersion(v: SemVer): string {
  const pre = v.prerelease.length > 0 ? `-${v.prerelease.join(".")}` : "";
  const build = v.build.length > 0 ? `+${v.build.join(".")}` : "";
  return `${v.major}.${v.minor}.${v.patch}${pre}${build}`;
}
