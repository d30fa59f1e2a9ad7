import { parseVersion } from "./parse_version.ts";
import type { SemVer } from "./types.ts";

/** Like {@link parseVersion}, but returns `undefined` instead of throwing on invalid input. */
export function tryParseVersion(s: string): SemVer | undefined {
  try {
    return parseVersion(s);
  } catch {
    return undefined;
  }
}
