import { checkAutoupdateVersion } from "./check_autoupdate_version.ts";
import type { AutoupdateVersion } from "./types.ts";

/** Like {@linkcode parseAutoupdateVersion}, but returns `undefined` when the resource is invalid. */
export function tryParseAutoupdateVersion(input: unknown): AutoupdateVersion | undefined {
  const r = checkAutoupdateVersion(input);
  return r.ok ? r.value : undefined;
}
