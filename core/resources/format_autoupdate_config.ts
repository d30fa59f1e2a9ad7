import { formatMetadata } from "./_check.ts";
import type { AutoupdateConfig } from "./types.ts";

/**
 * The canonical wire form (snake_case, every default explicit) of a validated `autoupdate_config`, for
 * GET and for writing back to a file. Strategy-specific fields appear only under their strategy:
 * `maintenance_window_duration` (as `5400s`) for time-based, `wait_hours` and `canary_count` for
 * halt-on-error.
 * `parseAutoupdateConfig(formatAutoupdateConfig(c))` deep-equals `c`.
 */
export function formatAutoupdateConfig(c: AutoupdateConfig): Record<string, unknown> {
  const a = c.spec.agents;
  const timeBased = a.strategy === "time-based";
  return {
    kind: c.kind,
    metadata: formatMetadata(c.metadata),
    spec: {
      tools: { mode: c.spec.tools.mode },
      agents: {
        mode: a.mode,
        strategy: a.strategy,
        // Teleport's name and protobuf JSON's duration form, so `tctl create` reads it back.
        ...(timeBased ? { maintenance_window_duration: `${a.maintenanceWindowMinutes * 60}s` } : {}),
        schedules: {
          regular: a.groups.map((g) => ({
            name: g.name,
            days: [...g.days],
            start_hour: g.startHour,
            ...(timeBased ? {} : { wait_hours: g.waitHours, canary_count: g.canaryCount }),
          })),
        },
      },
    },
  };
}
