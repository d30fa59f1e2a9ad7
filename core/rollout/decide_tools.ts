import { checkCompat } from "../compat/check_compat.ts";
import type { CompatPolicy } from "../compat/types.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import type { ToolsDecision } from "./types.ts";

export type DecideToolsInput = {
  config: AutoupdateConfig;
  version: AutoupdateVersion | undefined;
  serverVersion: string;
  policy?: CompatPolicy;
};

/**
 * What client tools are told. The version is `autoupdate_version`'s `spec.tools.target_version`, or the
 * server version when none is set; a target the server is not compatible with (`checkCompat`: e.g. a newer
 * major than the server) is never chosen automatically — the server version is served instead, and the
 * reason says why. `tools_auto_update` is `spec.tools.mode == enabled` in `autoupdate_config`.
 */
export function decideTools({ config, version, serverVersion, policy }: DecideToolsInput): ToolsDecision {
  const server = parseVersion(serverVersion);
  const enabled = config.spec.tools.mode === "enabled";
  const auto = enabled ? "" : "; tools updates disabled (spec.tools.mode)";
  const targetText = version?.spec.tools?.targetVersion;
  if (targetText === undefined) {
    return {
      tools_version: formatVersion(server),
      tools_auto_update: enabled,
      reason: `no tools target set: the server version${auto}`,
    };
  }
  const target = parseVersion(targetText);
  const compat = checkCompat(server, target, policy);
  if (!compat.compatible) {
    return {
      tools_version: formatVersion(server),
      tools_auto_update: enabled,
      reason: `tools target ${formatVersion(target)} not served: ${compat.reason}; the server version instead${auto}`,
    };
  }
  return { tools_version: formatVersion(target), tools_auto_update: enabled, reason: `tools target${auto}` };
}
