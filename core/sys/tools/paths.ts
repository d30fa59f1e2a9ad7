/**
 * Where client tools live: `UPKEEP_TOOLS_DIR`, default `~/.upkeep/tools`. Plain string joins: this module is on
 * the shim's hot path, where loading `node:path` costs measurable start-up time.
 */
export function toolsDir(env: Record<string, string | undefined>): string {
  const home = env.HOME || "/";
  return trimSlash(env.UPKEEP_TOOLS_DIR || `${trimSlash(home)}/.upkeep/tools`);
}

function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, "") : p;
}

export function statePath(dir: string): string {
  return `${dir}/tools.json`;
}

/** The completion marker the shared installer writes last in a version folder. */
export const MARKER = ".upkeep-complete";
/** Touched on every run, for least-recently-used cleanup. */
export const LAST_USED = ".upkeep-last-used";
