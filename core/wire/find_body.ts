/**
 * The body of `GET /v1/webapi/find` (and `/webapi/ping`): Teleport's fields, as Teleport names them and in its
 * order, then upkeep's own under `upkeep`. Built here only (the server's answer and its do-not-update answer
 * on an internal error); read by `parseFind`. Pure.
 */

import type { AgentMode } from "../resources/types.ts";
import type { AgentDecision, ToolsDecision, VersionAdjustment } from "../rollout/types.ts";
import { type Edition, formatArtifactName } from "../trust/artifact_name.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";

/** How long client tools may cache the answer when the server does not say (`upkeep.cache_seconds`). */
export const DEFAULT_TOOLS_CACHE_SECONDS = 300;

/** The reason of the answer given on an internal error. */
export const INTERNAL_ERROR_REASON = "internal error: do not update";

/** Who answers: the same in every find answer of a server. */
export interface ServerInfo {
  product: string;
  clusterName: string;
  edition: Edition;
  fips: boolean;
  jitterSeconds: number;
  /**
   * How long client tools may cache the find answer before asking again (`upkeep.cache_seconds`; config key
   * tools_cache_seconds): how soon a developer's shell follows a new tools version. Default 300.
   */
  toolsCacheSeconds?: number;
  /** `--artifacts-url`: where hosts download releases (`upkeep.artifacts_url`); absent: the server's /artifacts. */
  artifactsUrl?: string;
}

/** `auto_update`: what Teleport's clients read. */
export interface FindAutoUpdate {
  tools_version: string;
  tools_auto_update: boolean;
  agent_version: string;
  agent_auto_update: boolean;
  agent_update_jitter_seconds: number;
}

/** `upkeep`: what this server adds (Teleport clients ignore it). */
export interface FindUpkeep {
  product: string;
  /** The artifact name with `{os}` and `{arch}` for the host to fill in; `""` with no version. */
  artifact: string;
  critical: boolean;
  group: string;
  group_state: AgentDecision["group_state"];
  canary: boolean;
  capped: boolean;
  adjusted: VersionAdjustment | null;
  mode: AgentMode;
  reason: string;
  tools_reason: string;
  tools_adjusted: VersionAdjustment | null;
  cache_seconds: number;
  /**
   * The upkeep version this server wants agents' updaters to run (DESIGN §9): set by the admin (`kind:
   * server` `updater_version`), by default the server's own version when it hosts that release; `""`: do
   * not self-update. Older agents ignore it.
   */
  updater_version: string;
  /** Where releases are downloaded (`serve --artifacts-url`); absent: `<server>/artifacts`. */
  artifacts_url?: string;
}

/** `upkeep` of the do-not-update answer given on an internal error. */
export interface FindUpkeepError {
  product: string;
  group: string;
  reason: typeof INTERNAL_ERROR_REASON;
  error: true;
  cache_seconds: number;
  /** Always `""`: on an internal error, no self-update either. */
  updater_version: "";
  artifacts_url?: string;
}

export interface FindBody {
  /** `""` while the server has no version. */
  server_version: string;
  min_client_version: string;
  cluster_name: string;
  edition: Edition;
  fips: boolean;
  auto_update: FindAutoUpdate;
  upkeep: FindUpkeep | FindUpkeepError;
}

/**
 * What the rollout decided for one agent of a group (`critical`: the version it is told is flagged
 * critical), or that deciding failed (then: do not update).
 */
export type FindVerdict =
  | { agent: AgentDecision; tools: ToolsDecision; critical: boolean }
  | { error: true; group: string };

/**
 * The find body `info` answers with the server version `serverVersion` (undefined: none) and `verdict`;
 * `updaterVersion`: the upkeep version agents' updaters should run (`""`, the default: do not self-update).
 * Throws only on an unusable product or version (the server then answers `{ error: true }`, which does not).
 */
export function findBody(
  info: ServerInfo,
  serverVersion: string | undefined,
  verdict: FindVerdict,
  updaterVersion = "",
): FindBody {
  const head = {
    server_version: serverVersion ?? "",
    min_client_version: serverVersion === undefined ? "" : minClientVersion(serverVersion),
    cluster_name: info.clusterName,
    edition: info.edition,
    fips: info.fips,
  };
  const cacheSeconds = info.toolsCacheSeconds ?? DEFAULT_TOOLS_CACHE_SECONDS;
  const artifactsUrl = info.artifactsUrl === undefined ? {} : { artifacts_url: info.artifactsUrl };
  if ("error" in verdict) {
    return {
      ...head,
      auto_update: autoUpdate(serverVersion ?? "", false, serverVersion ?? "", false, info.jitterSeconds),
      upkeep: {
        product: info.product,
        group: verdict.group,
        reason: INTERNAL_ERROR_REASON,
        error: true,
        cache_seconds: cacheSeconds,
        updater_version: "",
        ...artifactsUrl,
      },
    };
  }
  const { agent, tools } = verdict;
  return {
    ...head,
    auto_update: autoUpdate(
      tools.tools_version,
      tools.tools_auto_update,
      agent.agent_version,
      agent.agent_auto_update,
      info.jitterSeconds,
    ),
    upkeep: {
      product: info.product,
      artifact: agent.agent_version === "" ? "" : artifactTemplate(info, agent.agent_version),
      critical: agent.agent_version !== "" && verdict.critical,
      group: agent.group,
      group_state: agent.group_state,
      canary: agent.canary,
      capped: agent.capped,
      adjusted: agent.adjusted,
      mode: agent.mode,
      reason: agent.reason,
      tools_reason: tools.reason,
      tools_adjusted: tools.adjusted,
      cache_seconds: cacheSeconds,
      updater_version: updaterVersion,
      ...artifactsUrl,
    },
  };
}

function autoUpdate(
  toolsVersion: string,
  toolsAuto: boolean,
  agentVersion: string,
  agentAuto: boolean,
  jitterSeconds: number,
): FindAutoUpdate {
  return {
    tools_version: toolsVersion,
    tools_auto_update: toolsAuto,
    agent_version: agentVersion,
    agent_auto_update: agentAuto,
    agent_update_jitter_seconds: jitterSeconds,
  };
}

/** The oldest client the server accepts: one major below (modern line), as Teleport reports it. */
export function minClientVersion(server: string): string {
  const v = parseVersion(server);
  return formatVersion({ major: Math.max(0, v.major - 1), minor: 0, patch: 0, prerelease: [], build: [] });
}

/** `upkeep.artifact`: the artifact name (`formatArtifactName`) with `{os}` and `{arch}` left to the host. */
export function artifactTemplate(
  info: Pick<ServerInfo, "product" | "edition" | "fips">,
  version: string,
): string {
  const name = formatArtifactName({ ...info, version, os: "os", arch: "arch" });
  const at = name.lastIndexOf("-os-arch");
  return `${name.slice(0, at)}-{os}-{arch}${name.slice(at + "-os-arch".length)}`;
}
