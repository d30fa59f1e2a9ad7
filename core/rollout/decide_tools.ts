import { checkCompat } from "../compat/check_compat.ts";
import type { CompatPolicy } from "../compat/types.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import type { ToolsDecision } from "./types.ts";

export type DecideToolsInput = {
  config: AutoupdateConfig;
  version: AutoupdateVersion | undefined;
  /** The control plane's version, or `undefined` (no control plane): then no cap and no raise. */
  serverVersion: string | undefined;
  policy?: CompatPolicy;
};

/**
 * What client tools are told. The version is `autoupdate_version`'s `spec.tools.target_version`.
 *
 * - With `serverVersion` set: no target means the server version (with no update while no
 *   `autoupdate_version` is set at all: safe by default); a target the server is not compatible
 *   with (`checkCompat`: e.g. a newer major than the server, or one too old) is never chosen
 *   automatically: the server version is served instead, `adjusted` and the reason say why.
 * - Without it (a product with no control plane): the target as given; no target means no version (`""`)
 *   and no update, until a tools target is set.
 *
 * `tools_auto_update` is `spec.tools.mode == enabled` in `autoupdate_config` (and false with no version).
 */
export function decideTools({ config, version, serverVersion, policy }: DecideToolsInput): ToolsDecision {
  const server = serverVersion === undefined ? undefined : parseVersion(serverVersion);
  const enabled = config.spec.tools.mode === "enabled";
  const auto = enabled ? "" : "; tools updates disabled (spec.tools.mode)";
  const targetText = version?.spec.tools?.targetVersion;
  if (targetText === undefined) {
    if (server === undefined) {
      return {
        tools_version: "",
        tools_auto_update: false,
        reason: NO_TOOLS_POLICY,
        adjusted: null,
      };
    }
    if (version?.spec.agents === undefined) {
      // No autoupdate_version at all: safe by default, the cluster's version is named but nothing moves.
      return {
        tools_version: formatVersion(server),
        tools_auto_update: false,
        reason:
          "no version policy yet (autoupdate_version is not set): the server version, no update until one is applied",
        adjusted: null,
      };
    }
    return {
      tools_version: formatVersion(server),
      tools_auto_update: enabled,
      reason: `no tools target set: the server version${auto}`,
      adjusted: null,
    };
  }
  const target = parseVersion(targetText);
  if (server === undefined) {
    return {
      tools_version: formatVersion(target),
      tools_auto_update: enabled,
      reason: `tools target${auto}`,
      adjusted: null,
    };
  }
  const compat = checkCompat(server, target, policy);
  if (!compat.compatible) {
    const tv = formatVersion(target);
    const sv = formatVersion(server);
    const why = `tools target ${tv} not served: ${compat.reason}; the server version ${sv} instead`;
    return {
      tools_version: sv,
      tools_auto_update: enabled,
      reason: `${why}${auto}`,
      adjusted: {
        kind: compareVersions(target, server) > 0 ? "capped" : "raised",
        from: tv,
        to: sv,
        why,
      },
    };
  }
  return {
    tools_version: formatVersion(target),
    tools_auto_update: enabled,
    reason: `tools target${auto}`,
    adjusted: null,
  };
}

/** The reason client tools get with no tools target and no server version. */
export const NO_TOOLS_POLICY =
  "no tools version yet: autoupdate_version has no spec.tools.target_version and server_version is not set (upkeep admin apply -f version.yaml): no version, no update";
