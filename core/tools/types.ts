/** The client-tools state of one user (`<tools-dir>/tools.json`), as plain data. */
export type ToolsState = {
  /** The server remembered by `upkeep tools login`. */
  server?: string;
  product?: string;
  /** Where artifacts are downloaded from; set at login, never by the server. */
  baseUrl?: string;
  /** Trusted minisign public keys (base64 key lines), pinned at login. */
  trustKeys: string[];
  /** Enrolled into automatic updates (asked once at the first login on a terminal). */
  enrolled: boolean;
  /** `upkeep tools pin VERSION`. */
  pinned?: string;
  /**
   * The last answer, cached with its time and the server that gave it (`UPKEEP_SERVER` may name another one
   * than `server`): an answer from another server than the one asked now counts as no answer. A file written
   * before `cache.server` existed holds the saved server's answer.
   */
  cache?: {
    toolsVersion: string;
    toolsAutoUpdate: boolean;
    fetchedAt: number;
    server?: string;
    /**
     * How long the server said its answer may be cached (`upkeep.cache_seconds`), as given; absent from a
     * server that does not say (Teleport, an older upkeep): DEFAULT_CACHE_TTL_MS then. Bounded by
     * `cacheTtlMs`.
     */
    cacheSeconds?: number;
  };
  /** The last failed attempt to reach the server (ms): retried only after a pause, so a down server costs little. */
  lastCheckFailedAt?: number;
  /** The newest release-manifest serial seen (rollback protection). */
  lastSerial?: number;
  /**
   * The floor of the newest release manifest verified (DESIGN §5): a version the server names below it is
   * never run, even when installed (a compromised server cannot send users back to a withdrawn version).
   */
  floor?: string;
  /** Plain http allowed to a non-loopback server (login --insecure). */
  insecure?: boolean;
  /**
   * Releases whose verified bytes the installer refused here (E_UNSAFE_ARCHIVE, E_MALFORMED): never
   * downloaded again while the manifest lists the same bytes (core/tools/refused.ts).
   */
  refused?: RefusedRelease[];
};

/** A release this machine refused, by version and the artifact's bytes (its sha256 in the signed manifest). */
export type RefusedRelease = {
  version: string;
  /** The artifact file name (product, version and platform). */
  artifact: string;
  sha256: string;
  /** The installer's verdict: E_UNSAFE_ARCHIVE or E_MALFORMED. */
  code: string;
  /** Its message (from an archive a publisher made: escaped wherever it is printed). */
  reason: string;
  /** When the bytes were refused (ms). */
  refusedAt: number;
  /** When a verified manifest last listed the same bytes (ms): after an hour the mirror is asked again. */
  checkedAt: number;
};

/** Where the version to run comes from, in order of precedence. */
export type VersionSource = "env" | "pin" | "server" | "installed" | "none";

export type VersionChoice = {
  /** The version to run, or undefined when nothing can run. */
  version?: string;
  source: VersionSource;
  /** `UPKEEP_TOOLS_VERSION=off`: run what is installed, never update. */
  off: boolean;
  /** The cached server answer is missing or older than its TTL and a server is known. */
  stale: boolean;
  /** Not enrolled, and the server wants another version: warn, run what is installed. */
  outOfDate?: string;
  /**
   * The server named this version, below the manifest's floor: refused. `version` is then the newest
   * installed version at or above the floor (run with a warning), or undefined (nothing may run).
   */
  belowFloor?: string;
};

/**
 * The cache lifetime when the server does not advertise one (Teleport, an upkeep before `cache_seconds`): the
 * hour these clients always used, so a cluster that never asked for more checks gets no more of them.
 */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
/** Whatever a server advertises, the answer is kept at least this long (a server cannot make every run ask)... */
export const MIN_CACHE_TTL_MS = 10 * 1000;
/** ...and at most this long (nor make a developer keep an old version for days). */
export const MAX_CACHE_TTL_MS = 60 * 60 * 1000;
export const MAX_KEPT_VERSIONS = 3;
/** After a failed check, the server is not asked again for this long. */
export const CHECK_RETRY_MS = 5 * 60 * 1000;
