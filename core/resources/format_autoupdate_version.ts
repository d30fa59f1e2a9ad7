import { formatMetadata } from "./_check.ts";
import type { AutoupdateVersion } from "./types.ts";

/**
 * The canonical wire form (snake_case, versions without `v`, defaults explicit) of a validated
 * `autoupdate_version`. `parseAutoupdateVersion(formatAutoupdateVersion(v))` deep-equals `v`.
 */
export function formatAutoupdateVersion(v: AutoupdateVersion): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  if (v.spec.tools !== undefined) spec.tools = { target_version: v.spec.tools.targetVersion };
  const a = v.spec.agents;
  if (a !== undefined) {
    spec.agents = {
      start_version: a.startVersion,
      target_version: a.targetVersion,
      schedule: a.schedule,
      mode: a.mode,
    };
  }
  return { kind: v.kind, metadata: formatMetadata(v.metadata), spec };
}
