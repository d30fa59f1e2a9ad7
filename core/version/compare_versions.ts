import type { SemVer } from "./types.ts";

/**
 * Compares two versions by semver 2.0 precedence: -1 when `a` is lower, 1 when higher, 0 when equal.
 * Build metadata is ignored; a pre-release is lower than its release (`7.0.0-rc.1 < 7.0.0`).
 */
export function compareVersions(a: SemVer, b: SemVer): -1 | 0 | 1 {
  return (
    compareNumbers(a.major, b.major) ||
    compareNumbers(a.minor, b.minor) ||
    compareNumbers(a.patch, b.patch) ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}

function compareNumbers(a: number, b: number): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: (string | number)[], b: (string | number)[]): -1 | 0 | 1 {
  // A version without pre-release identifiers has the higher precedence.
  if (a.length === 0 || b.length === 0) return compareNumbers(b.length, a.length);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdentifiers(a[i] as string | number, b[i] as string | number);
    if (c !== 0) return c;
  }
  return compareNumbers(a.length, b.length);
}

const DIGITS = /^\d+$/;

function compareIdentifiers(a: string | number, b: string | number): -1 | 0 | 1 {
  const sa = String(a);
  const sb = String(b);
  const na = DIGITS.test(sa);
  const nb = DIGITS.test(sb);
  // Numeric identifiers have no leading zeros, so a longer one is larger (this also covers huge ones).
  if (na && nb) return compareNumbers(sa.length, sb.length) || compareStrings(sa, sb);
  if (na) return -1; // numeric identifiers are lower than alphanumeric ones
  if (nb) return 1;
  return compareStrings(sa, sb);
}

function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0; // ASCII order, as semver 2.0 specifies
}
