import { BadResourceError } from "./bad_resource_error.ts";
import { checkAutoupdateConfig } from "./check_autoupdate_config.ts";
import type { AutoupdateConfig } from "./types.ts";

/**
 * Parses and validates an `autoupdate_config` from YAML/JSON text or an already-parsed object.
 *
 * @throws {BadResourceError} (`E_BAD_RESOURCE`) listing every problem, each with its field path.
 */
export function parseAutoupdateConfig(input: unknown): AutoupdateConfig {
  const r = checkAutoupdateConfig(input);
  if (!r.ok) throw new BadResourceError("autoupdate_config", r.problems);
  return r.value;
}
