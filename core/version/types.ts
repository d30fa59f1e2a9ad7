/**
 * A semantic version (https://semver.org/spec/v2.0.0.html) as plain data.
 *
 * Numeric pre-release identifiers are numbers when they fit in a safe integer, otherwise digit strings;
 * `build` metadata is kept for printing but ignored by every comparison.
 */
export type SemVer = {
  major: number;
  minor: number;
  patch: number;
  prerelease: (string | number)[];
  build: string[];
};
