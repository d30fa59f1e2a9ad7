/**
 * Where client tools live: `UPKEEP_TOOLS_DIR`, default `~/.upkeep/tools`. Plain string joins: this module is on
 * the shim's hot path, where loading `node:path` costs measurable start-up time.
 */
export function toolsDir(env: Record<string, string | undefined>): string {
  const home = env.HOME || "/";
  return trimSlash(env.UPKEEP_TOOLS_DIR || `${trimSlash(home)}/.upkeep/tools`);
}

/** Drops trailing slashes (never the root's); a loop, not a regular expression, on the hot path. */
function trimSlash(p: string): string {
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 47) end--;
  return end === p.length ? p : p.slice(0, end);
}

export function statePath(dir: string): string {
  return `${dir}/tools.json`;
}

/** Touched on every run, for least-recently-used cleanup. */
export const LAST_USED = ".upkeep-last-used";
