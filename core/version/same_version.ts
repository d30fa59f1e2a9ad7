import { equals } from "./equals.ts";
import { tryParseVersion } from "./try_parse_version.ts";

/**
 * Whether two version strings name the same version: equal semver precedence, a leading `v` and build
 * metadata aside (`v1.2.3` is `1.2.3+b7`). Text that is not a version names none, so it is the same as
 * nothing, not even itself: `sameVersion("", "")` and `sameVersion("x", "x")` are false (an empty `active`
 * is "nothing installed", never a version that matches another empty field).
 */
export function sameVersion(a: string | undefined, b: string | undefined): boolean {
  const x = a === undefined ? undefined : tryParseVersion(a);
  const y = b === undefined ? undefined : tryParseVersion(b);
  return x !== undefined && y !== undefined && equals(x, y);
}
