import type { SemVer } from "../version/types.ts";
import { checkLines, withAdvice } from "./_shared.ts";
import { DEFAULT_COMPAT_POLICY } from "./default_compat_policy.ts";
import type { CompatPolicy, CompatResult } from "./types.ts";

/**
 * Whether `client` (an agent, a node, or a client tool) works with `server` (the control plane), by the
 * rules of DESIGN §1 (seeds 003/004):
 *
 * - modern line (major >= 5): any minor and patch of one major are compatible in both directions; a server
 *   works with clients up to `majorSkew` majors older; a client of a newer major is not guaranteed;
 * - legacy line (major < 5): patches are compatible; a server works with clients up to `legacyMinorSkew`
 *   minors older, never newer; the release before `N.0` is the last minor of `N-1`, so a `N.0` server (and
 *   any `5.x` server) works with clients on the last minor of the previous major.
 *
 * `releases` (the known versions) decides which minor is the last of a legacy major; without it, the
 * client is assumed to be on it. Pre-release versions compare by their numbers, and the reason notes them.
 */
export function checkCompat(
  server: SemVer,
  client: SemVer,
  policy: CompatPolicy = DEFAULT_COMPAT_POLICY,
  releases?: readonly SemVer[],
): CompatResult {
  return withAdvice(checkLines(server, client, policy, releases, "client"));
}
