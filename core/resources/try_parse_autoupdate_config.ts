import { checkAutoupdateConfig } from "./check_autoupdate_config.ts";
import type { AutoupdateConfig } from "./types.ts";

/** Like {@linkcode parseAutoupdateConfig}, but returns `undefined` when the resource is invalid. */
export function tryParseAutoupdateConfig(input: unknown): AutoupdateConfig | undefined {
  const r = checkAutoupdateConfig(input);
  return r.ok ? r.value : undefined;
}
