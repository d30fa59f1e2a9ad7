/**
 * The body of `GET /v1/webapi/find` (and `/webapi/ping`, `/webapi/ping/:connector`): Teleport's fields
 * (`PingResponse` in api/client/webclient/webclient.go), as Teleport names them and in its order, then
 * upkeep's own under `upkeep`. Built here only (the server's answer and its do-not-update answer on an
 * internal error); read by `parseFind`. Pure.
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

/**
 * The edition a server says it serves, as Teleport names them (`edition` of `PingResponse`): `oss`,
 * `community` (Teleport Community Edition: the same artifacts as oss) or `ent`.
 */
export type WireEdition = Edition | "community";

export const WIRE_EDITIONS: readonly WireEdition[] = ["oss", "community", "ent"];

/** The artifacts' edition of a served edition: `community` builds are named like oss ones (no `-ent`). */
export function artifactEdition(edition: WireEdition): Edition {
  return edition === "ent" ? "ent" : "oss";
}

/** Who answers: the same in every find answer of a server. */
export interface ServerInfo {
  product: string;
  clusterName: string;
  edition: WireEdition;
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

/**
 * `auth` (Teleport's `AuthenticationSettings`): minimal, the same in every answer, with every field
 * Teleport always writes. upkeep logs nobody in: `local` with no second factor, no hardware key policy, no
 * device trust, no message of the day, no session TTL of its own (`0s`). It is there so that clients that
 * decode a ping answer whole find what they expect.
 */
export interface FindAuth {
  type: "local";
  second_factor: "off";
  private_key_policy: "none";
  piv_slot: "";
  /** Go's time.Duration: nanoseconds. */
  piv_pin_cache_duration: 0;
  device_trust: { disabled: true };
  has_motd: false;
  /** Teleport's types.Duration: a Go duration string. */
  default_session_ttl: "0s";
}

/**
 * `proxy` (Teleport's `ProxySettings`): minimal, the same in every answer: upkeep proxies nothing (no
 * Kubernetes, SSH or database listener, no TLS routing); every address Teleport leaves out when unset is
 * left out.
 */
export interface FindProxy {
  kube: Record<string, never>;
  ssh: Record<string, never>;
  db: Record<string, never>;
  tls_routing_enabled: false;
}

export interface FindBody {
  auth: FindAuth;
  proxy: FindProxy;
  /** `""` while the server has no version. */
  server_version: string;
  /** Teleport's rule: one major below the server, with the `-aa` pre-release (`16.0.0-aa` for 17.x). */
  min_client_version: string;
  auto_update: FindAutoUpdate;
  cluster_name: string;
  /** Teleport: the cluster offers managed agent updates. Always true: that is what upkeep serves. */
  automatic_upgrades: true;
  edition: WireEdition;
  fips: boolean;
  upkeep: FindUpkeep | FindUpkeepError;
}

/** `auth` of every answer. */
export const FIND_AUTH: FindAuth = {
  type: "local",
  second_factor: "off",
  private_key_policy: "none",
  piv_slot: "",
  piv_pin_cache_duration: 0,
  device_trust: { disabled: true },
  has_motd: false,
  default_session_ttl: "0s",
};

/** `proxy` of every answer. */
export const FIND_PROXY: FindProxy = { kube: {}, ssh: {}, db: {}, tls_routing_enabled: false };

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
    auth: { ...FIND_AUTH, device_trust: { disabled: true as const } },
    proxy: { ...FIND_PROXY, kube: {}, ssh: {}, db: {} },
    server_version: serverVersion ?? "",
    min_client_version: serverVersion === undefined ? "" : minClientVersion(serverVersion),
  };
  const tail = {
    cluster_name: info.clusterName,
    automatic_upgrades: true as const,
    edition: info.edition,
    fips: info.fips,
  };
  const cacheSeconds = info.toolsCacheSeconds ?? DEFAULT_TOOLS_CACHE_SECONDS;
  const artifactsUrl = info.artifactsUrl === undefined ? {} : { artifacts_url: info.artifactsUrl };
  if ("error" in verdict) {
    return {
      ...head,
      auto_update: autoUpdate(serverVersion ?? "", false, serverVersion ?? "", false, info.jitterSeconds),
      ...tail,
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
    ...tail,
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

/**
 * The oldest client the server accepts, by Teleport's rule (`MinClientSemVersion` in version.go): one major
 * below, with the pre-release `aa`, so that that major's alpha, beta and rc builds count as new enough:
 * `16.0.0-aa` for 17.x (`0.0.0-aa` for 0.x: no negative major).
 */
export function minClientVersion(server: string): string {
  const v = parseVersion(server);
  return formatVersion({
    major: Math.max(0, v.major - 1),
    minor: 0,
    patch: 0,
    prerelease: ["aa"],
    build: [],
  });
}

/**
 * `upkeep.artifact`: the artifact name (`formatArtifactName`, Teleport's template: `-ent` for ent, `-fips` for
 * FIPS, nothing for oss and community) with `{os}` and `{arch}` left to the host.
 */
export function artifactTemplate(
  info: Pick<ServerInfo, "product" | "edition" | "fips">,
  version: string,
): string {
  const name = formatArtifactName({
    product: info.product,
    edition: artifactEdition(info.edition),
    fips: info.fips,
    version,
    os: "os",
    arch: "arch",
  });
  const at = name.lastIndexOf("-os-arch");
  return `${name.slice(0, at)}-{os}-{arch}${name.slice(at + "-os-arch".length)}`;
}
