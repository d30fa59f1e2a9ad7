import { UpkeepError } from "../errors.ts";
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import type { RefusedRelease, ToolsState } from "./types.ts";

/**
 * Validates the tools state read from disk. On the shim's hot path: plain loops and assignments, no
 * `Array.prototype.some` or object spread (each JavaScript built-in costs ~0.02-0.1 ms on its first call in a
 * freshly started executable, measured).
 * A damaged file is refused with its path; it is never half-used. `upkeep tools login` moves it aside
 * (`tools.json.bad-<time>`) and starts fresh; the hint says so and names the file.
 */
export function parseToolsState(text: string, path: string): ToolsState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UpkeepError("E_MALFORMED", `${path} is not valid JSON`, { hint: damagedHint(path) });
  }
  const bad = (field: string) =>
    new UpkeepError("E_MALFORMED", `${path}: ${field} is invalid`, { hint: damagedHint(path) });
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad("the document");
  const d = doc as Record<string, unknown>;
  const optStr = (k: string): string | undefined => {
    if (d[k] === undefined) return undefined;
    if (typeof d[k] !== "string") throw bad(k);
    return d[k] as string;
  };
  const keys = d.trustKeys ?? [];
  if (!Array.isArray(keys)) throw bad("trustKeys");
  // An index loop: `for...of` starts the array iterator built-in, a first-call cost on the shim's path.
  for (let i = 0; i < keys.length; i++) if (typeof keys[i] !== "string") throw bad("trustKeys");
  const pinned = optStr("pinned");
  if (pinned !== undefined && !tryParseVersion(pinned)) throw bad("pinned");
  const floor = optStr("floor");
  if (floor !== undefined && !tryParseVersion(floor)) throw bad("floor");
  let cache: ToolsState["cache"];
  if (d.cache !== undefined) {
    const c = d.cache as Record<string, unknown>;
    const v = typeof c?.toolsVersion === "string" ? tryParseVersion(c.toolsVersion) : undefined;
    if (!v || typeof c.toolsAutoUpdate !== "boolean" || typeof c.fetchedAt !== "number") throw bad("cache");
    if (c.server !== undefined && typeof c.server !== "string") throw bad("cache");
    if (c.cacheSeconds !== undefined && typeof c.cacheSeconds !== "number") throw bad("cache");
    cache = { toolsVersion: formatVersion(v), toolsAutoUpdate: c.toolsAutoUpdate, fetchedAt: c.fetchedAt };
    if (c.server) cache.server = c.server;
    if (typeof c.cacheSeconds === "number") cache.cacheSeconds = c.cacheSeconds;
  }
  if (d.lastSerial !== undefined && typeof d.lastSerial !== "number") throw bad("lastSerial");
  if (d.lastCheckFailedAt !== undefined && typeof d.lastCheckFailedAt !== "number")
    throw bad("lastCheckFailedAt");
  const server = optStr("server");
  const product = optStr("product");
  const baseUrl = optStr("baseUrl");
  const state: ToolsState = { trustKeys: keys as string[], enrolled: d.enrolled === true };
  if (server) state.server = server;
  if (product) state.product = product;
  if (baseUrl) state.baseUrl = baseUrl;
  if (pinned) state.pinned = pinned;
  if (cache) state.cache = cache;
  if (typeof d.lastSerial === "number") state.lastSerial = d.lastSerial;
  if (floor) state.floor = floor;
  if (typeof d.lastCheckFailedAt === "number") state.lastCheckFailedAt = d.lastCheckFailedAt;
  if (d.insecure === true) state.insecure = true;
  if (d.refused !== undefined) state.refused = parseRefused(d.refused, () => bad("refused"));
  return state;
}

/** The refused releases (only in a file that has them: off the usual path). */
function parseRefused(v: unknown, bad: () => UpkeepError): RefusedRelease[] {
  if (!Array.isArray(v)) throw bad();
  const out: RefusedRelease[] = [];
  for (let i = 0; i < v.length; i++) {
    const r = v[i] as Record<string, unknown> | null;
    if (!r || typeof r !== "object") throw bad();
    const { version, artifact, sha256, code, reason, refusedAt, checkedAt } = r;
    if (
      typeof version !== "string" ||
      !tryParseVersion(version) ||
      typeof artifact !== "string" ||
      typeof sha256 !== "string" ||
      !/^[0-9a-f]{64}$/.test(sha256) ||
      typeof code !== "string" ||
      !/^E_[A-Z_]{1,40}$/.test(code) ||
      typeof reason !== "string" ||
      typeof refusedAt !== "number" ||
      typeof checkedAt !== "number"
    )
      throw bad();
    out.push({ version, artifact, sha256, code, reason, refusedAt, checkedAt });
  }
  return out;
}

function damagedHint(path: string): string {
  return `fix or remove ${path}, or run \`upkeep tools login --server URL --product NAME\`: it moves the damaged file aside and starts fresh`;
}
