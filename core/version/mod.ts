/**
 * Semantic versions (semver 2.0) as plain data: parse, format, compare, pick the latest stable.
 * A leading `v` is accepted on input and never printed. Pure: no I/O.
 *
 * ```ts
 * import { compareVersions, formatVersion, parseVersion } from "./core/version/mod.ts";
 * const v = parseVersion("v6.1.0");            // { major: 6, minor: 1, patch: 0, prerelease: [], build: [] }
 * formatVersion(v);                            // "6.1.0"
 * compareVersions(v, parseVersion("6.1.0-rc.1")); // 1
 * ```
 */
export * from "./compare_versions.ts";
export * from "./equals.ts";
export * from "./format_version.ts";
export * from "./is_prerelease.ts";
export * from "./parse_version.ts";
export * from "./same_version.ts";
export * from "./sort_versions.ts";
export * from "./try_parse_version.ts";
export * from "./types.ts";
