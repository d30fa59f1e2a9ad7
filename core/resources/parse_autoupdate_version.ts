import { BadResourceError } from "./bad_resource_error.ts";
import { checkAutoupdateVersion } from "./check_autoupdate_version.ts";
import type { AutoupdateVersion } from "./types.ts";

/**
 * Parses and validates an `autoupdate_version` from YAML/JSON text or an already-parsed object.
 *
 * @throws {BadResourceError} (`E_BAD_RESOURCE`) listing every problem, each with its field path.
 */
export function parseAutoupdateVersion(input: unknown): AutoupdateVersion {
  const r = checkAutoupdateVersion(input);
  if (!r.ok) throw new BadResourceError("autoupdate_version", r.problems);
  return r.value;
}
