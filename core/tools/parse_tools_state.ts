import { UpkeepError } from "../errors.ts";
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import type { ToolsState } from "./types.ts";

/**
 * Validates the tools state read from disk. A damaged file is refused with its path so the user can remove
 * it (`upkeep tools clean` or a new `login`); it is never half-used.
 */
export function parseToolsState(text: string, path: string): ToolsState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UpkeepError("E_MALFORMED", `${path} is not valid JSON`, {
      hint: "run `upkeep tools login` again",
    });
  }
  const bad = (field: string) =>
    new UpkeepError("E_MALFORMED", `${path}: ${field} is invalid`, {
      hint: "run `upkeep tools login` again",
    });
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad("the document");
  const d = doc as Record<string, unknown>;
  const optStr = (k: string): string | undefined => {
    if (d[k] === undefined) return undefined;
    if (typeof d[k] !== "string") throw bad(k);
    return d[k] as string;
  };
  const keys = d.trustKeys ?? [];
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) throw bad("trustKeys");
  const pinned = optStr("pinned");
  if (pinned !== undefined && !tryParseVersion(pinned)) throw bad("pinned");
  let cache: ToolsState["cache"];
  if (d.cache !== undefined) {
    const c = d.cache as Record<string, unknown>;
    const v = typeof c?.toolsVersion === "string" ? tryParseVersion(c.toolsVersion) : undefined;
    if (!v || typeof c.toolsAutoUpdate !== "boolean" || typeof c.fetchedAt !== "number") throw bad("cache");
    cache = { toolsVersion: formatVersion(v), toolsAutoUpdate: c.toolsAutoUpdate, fetchedAt: c.fetchedAt };
  }
  if (d.lastSerial !== undefined && typeof d.lastSerial !== "number") throw bad("lastSerial");
  if (d.lastCheckFailedAt !== undefined && typeof d.lastCheckFailedAt !== "number")
    throw bad("lastCheckFailedAt");
  const server = optStr("server");
  const product = optStr("product");
  const baseUrl = optStr("baseUrl");
  return {
    ...(server ? { server } : {}),
    ...(product ? { product } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    trustKeys: keys as string[],
    enrolled: d.enrolled === true,
    ...(pinned ? { pinned } : {}),
    ...(cache ? { cache } : {}),
    ...(typeof d.lastSerial === "number" ? { lastSerial: d.lastSerial } : {}),
    ...(typeof d.lastCheckFailedAt === "number" ? { lastCheckFailedAt: d.lastCheckFailedAt } : {}),
    ...(d.insecure === true ? { insecure: true } : {}),
  };
}
