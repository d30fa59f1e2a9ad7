import { compareVersions } from "../version/compare_versions.ts";
import type { SemVer } from "../version/types.ts";
import { checkLines } from "./_shared.ts";
import { DEFAULT_COMPAT_POLICY } from "./default_compat_policy.ts";
import type { CompatPolicy } from "./types.ts";

/**
 * Whether a component may go from `a` to `b` in one hop (up or down): the newer of the two, as a server,
 * must work with the older as a client, so that upgraded and not-yet-upgraded components interoperate
 * during the hop. `releases` decides the last minor of a legacy major (see checkCompat).
 */
export function isStepCompatible(
  a: SemVer,
  b: SemVer,
  policy: CompatPolicy = DEFAULT_COMPAT_POLICY,
  releases?: readonly SemVer[],
): boolean {
  const [older, newer] = compareVersions(a, b) <= 0 ? [a, b] : [b, a];
  return checkLines(newer, older, policy, releases, "client").compatible;
}
