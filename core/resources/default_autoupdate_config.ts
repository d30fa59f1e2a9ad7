import { checkAutoupdateConfig } from "./check_autoupdate_config.ts";
import type { AutoupdateConfig } from "./types.ts";

/**
 * The configuration in force when the operator has stored none: client tools updates disabled (Teleport's
 * default: `spec.tools.mode: enabled` turns them on), agents enabled, halt-on-error, one group `default` on
 * Mon..Thu at 12:00 UTC, no wait, no canaries. A fresh object on every call.
 */
export function defaultAutoupdateConfig(): AutoupdateConfig {
  const r = checkAutoupdateConfig({ kind: "autoupdate_config" });
  if (!r.ok) throw new Error("unreachable: the empty autoupdate_config is valid");
  return r.value;
}
