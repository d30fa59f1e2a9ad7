import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import {
  CHECK_RETRY_MS,
  DEFAULT_CACHE_TTL_MS,
  MAX_CACHE_TTL_MS,
  MIN_CACHE_TTL_MS,
  type ToolsState,
  type VersionChoice,
} from "./types.ts";

export type ChooseVersionInput = {
  state: ToolsState;
  /** The server asked now (`UPKEEP_SERVER` or the saved one); default `state.server`. */
  server?: string | undefined;
  /** `UPKEEP_TOOLS_VERSION`: `X.Y.Z` pins, `off` runs what is installed and never updates. */
  envVersion?: string;
  /**
   * Versions installed in the tools dir (complete ones only), or a function listing them: it is called only
   * when the choice depends on them (`off`, or no env/pin/server answer), so the shim skips the listing.
   */
  installed: readonly string[] | (() => readonly string[]);
  now: number;
  /** Overrides the cache lifetime (default: `cacheTtlMs` of the cached answer). */
  ttlMs?: number;
};

/**
 * How long a cached answer stays fresh: what its server advertised (`upkeep.cache_seconds`), kept within
 * MIN_CACHE_TTL_MS..MAX_CACHE_TTL_MS; DEFAULT_CACHE_TTL_MS when it advertised nothing (or nonsense).
 */
export function cacheTtlMs(cache: ToolsState["cache"]): number {
  const s = cache?.cacheSeconds;
  if (s === undefined || !(s >= 0)) return DEFAULT_CACHE_TTL_MS;
  const ms = s * 1000;
  return ms < MIN_CACHE_TTL_MS ? MIN_CACHE_TTL_MS : ms > MAX_CACHE_TTL_MS ? MAX_CACHE_TTL_MS : ms;
}

/** The newest installed version (semver order), or undefined. */
function newest(installed: readonly string[]): string | undefined {
  const parsed = installed.map((v) => tryParseVersion(v)).filter((v) => v !== undefined);
  parsed.sort(compareVersions);
  const last = parsed.at(-1);
  return last ? formatVersion(last) : undefined;
}

/**
 * The cached answer when it is `server`'s: an answer saved from another server (a run with `UPKEEP_SERVER`,
 * or the saved server when `UPKEEP_SERVER` is set now) is no answer. A cache without its server (a file from
 * before it was recorded) is the saved server's. One string compare: this is on the shim's hot path.
 */
export function cachedAnswer(state: ToolsState, server: string | undefined): ToolsState["cache"] {
  const cache = state.cache;
  if (!cache) return undefined;
  return (cache.server ?? state.server) === server ? cache : undefined;
}

/**
 * Which version of the client tools to run (DESIGN §7): `UPKEEP_TOOLS_VERSION` > pin > the server's
 * `tools_version` when `tools_auto_update` is true and the user is enrolled (cached with a TTL) > the newest
 * installed. Pure: the caller refreshes the cache when `stale` and asks again.
 *
 * @throws {SyntaxError} when `UPKEEP_TOOLS_VERSION` is neither `off` nor a version.
 */
export function chooseVersion(input: ChooseVersionInput): VersionChoice {
  const { state, now } = input;
  const env = input.envVersion?.trim();
  const newestInstalled = () =>
    newest(typeof input.installed === "function" ? input.installed() : input.installed);
  if (env === "off") {
    const installedNewest = newestInstalled();
    return {
      ...(installedNewest ? { version: installedNewest } : {}),
      source: installedNewest ? "installed" : "none",
      off: true,
      stale: false,
    };
  }
  if (env) {
    const v = tryParseVersion(env);
    if (!v)
      throw new SyntaxError(
        `UPKEEP_TOOLS_VERSION=${JSON.stringify(env)}: use a version such as 17.0.1, or off`,
      );
    return { version: formatVersion(v), source: "env", off: false, stale: false };
  }
  if (state.pinned) return { version: state.pinned, source: "pin", off: false, stale: false };

  const recentFailure =
    state.lastCheckFailedAt !== undefined &&
    now - state.lastCheckFailedAt >= 0 &&
    now - state.lastCheckFailedAt < CHECK_RETRY_MS;
  const server = "server" in input ? input.server : state.server;
  const cache = cachedAnswer(state, server);
  const ttl = input.ttlMs ?? cacheTtlMs(cache);
  const stale =
    Boolean(server) && !recentFailure && (!cache || now - cache.fetchedAt > ttl || now < cache.fetchedAt);
  if (cache?.toolsAutoUpdate && state.enrolled) {
    if (state.floor && isBelow(cache.toolsVersion, state.floor))
      return floorFallback(cache.toolsVersion, state.floor, input.installed, stale);
    return { version: cache.toolsVersion, source: "server", off: false, stale };
  }
  const installedNewest = newestInstalled();
  const choice: VersionChoice = {
    ...(installedNewest ? { version: installedNewest } : {}),
    source: installedNewest ? "installed" : "none",
    off: false,
    stale,
  };
  if (cache && cache.toolsVersion !== installedNewest && (!state.enrolled || !cache.toolsAutoUpdate)) {
    choice.outOfDate = cache.toolsVersion;
    // Nothing installed at all: the server's version is the only one that can run.
    if (!installedNewest) {
      if (state.floor && isBelow(cache.toolsVersion, state.floor))
        return floorFallback(cache.toolsVersion, state.floor, [], stale);
      choice.version = cache.toolsVersion;
      choice.source = "server";
    }
  }
  return choice;
}

/** `version` is below `floor` (both valid: checked when the state was read). One compare on the hot path. */
export function isBelow(version: string, floor: string): boolean {
  const v = tryParseVersion(version);
  const f = tryParseVersion(floor);
  return v !== undefined && f !== undefined && compareVersions(v, f) < 0;
}

/** The server named a version below the floor: the newest installed at or above it, else nothing. */
function floorFallback(
  named: string,
  floor: string,
  installed: ChooseVersionInput["installed"],
  stale: boolean,
): VersionChoice {
  const list = typeof installed === "function" ? installed() : installed;
  const version = newest(list.filter((v) => !isBelow(v, floor)));
  return {
    ...(version ? { version } : {}),
    source: version ? "installed" : "none",
    off: false,
    stale,
    belowFloor: named,
  };
}
