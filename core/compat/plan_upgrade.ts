import { UpkeepError } from "../errors.ts";
import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import { isPrerelease } from "../version/is_prerelease.ts";
import type { SemVer } from "../version/types.ts";
import { assertPolicy, checkLines, compareLines, isModern, lastMinor } from "./_shared.ts";
import { DEFAULT_COMPAT_POLICY } from "./default_compat_policy.ts";
import type { CompatPolicy } from "./types.ts";

/**
 * The hops that take a stateful component (a control plane) from `from` to `to` without skipping a
 * compatibility step (DESIGN §1):
 *
 * - `from` equal to `to`: no hops (`[]`);
 * - upgrade: while `to` is not compatible with the current version, hop to the newest stable `available`
 *   version that is compatible with it and on a higher line (the next major on the modern line, the next
 *   minor on the legacy line), so each step is the newest patch of its line; the last hop is `to` itself
 *   (`to` need not be listed in `available`). 5.2.0 -> 7.1.0 goes through the newest 6.x, 4.1.0 -> 4.3.0
 *   through the newest 4.2.x, 4.2.0 -> 5.1.0 through 4.3.x ... up to the last 4.x minor;
 * - pre-releases in `available` are never steps; only `to` may be one;
 * - downgrade: one hop when `to` works with `from` (6.3 -> 6.1, 6.1 -> 5.9), refused otherwise.
 *
 * @throws {UpkeepError} code `E_NO_PLAN` naming the missing step or the refused downgrade.
 */
export function planUpgrade(
  from: SemVer,
  to: SemVer,
  available: readonly SemVer[],
  policy: CompatPolicy = DEFAULT_COMPAT_POLICY,
): SemVer[] {
  assertPolicy(policy);
  const order = compareVersions(from, to);
  if (order === 0) return [];
  const known = [...available, from, to];
  const fv = formatVersion(from);
  const tv = formatVersion(to);

  if (order > 0) {
    const check = checkLines(from, to, policy, known, "client");
    if (check.compatible) return [to];
    throw new UpkeepError(
      "E_NO_PLAN",
      `cannot downgrade ${fv} -> ${tv}: ${check.reason}; a downgrade is only ever one compatible hop`,
      { hint: "downgrade to a version the current one still works with, or restore from a backup" },
    );
  }

  // Stable candidates strictly between from and to, newest first.
  const candidates = available
    .filter((v) => !isPrerelease(v) && compareVersions(v, from) > 0 && compareVersions(v, to) < 0)
    .sort((a, b) => compareVersions(b, a));
  const steps: SemVer[] = [];
  let current = from;
  while (!checkLines(to, current, policy, known, "client").compatible) {
    const here = current;
    const next = candidates.find(
      (v) => compareLines(v, here, policy) > 0 && checkLines(v, here, policy, known, "client").compatible,
    );
    if (next === undefined) {
      const line = missingLine(here, policy, known);
      throw new UpkeepError(
        "E_NO_PLAN",
        `no ${line} release in the available versions: ${fv} -> ${tv} must go through ${line}`,
        { hint: `make a ${line} release available, or choose a nearer target` },
      );
    }
    steps.push(next);
    current = next;
  }
  steps.push(to);
  return steps;
}

/** The line(s) the next hop from `current` must reach, e.g. `6.x`, `4.2.x` or `6.x to 7.x`. */
function missingLine(current: SemVer, policy: CompatPolicy, known: readonly SemVer[]): string {
  if (isModern(current, policy)) {
    return range(current.major + 1, current.major + policy.majorSkew, (m) => `${m}.x`);
  }
  const last = lastMinor(current.major, current, known);
  if (current.minor < last) {
    const upTo = Math.min(current.minor + policy.legacyMinorSkew, last);
    return range(current.minor + 1, upTo, (m) => `${current.major}.${m}.x`);
  }
  const nextMajor = current.major + 1;
  return nextMajor >= policy.modernMajor ? `${nextMajor}.x` : `${nextMajor}.0.x`;
}

function range(first: number, last: number, name: (n: number) => string): string {
  return first === last ? name(first) : `${name(first)} to ${name(last)}`;
}
