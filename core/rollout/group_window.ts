import type { AgentGroupConfig, AutoupdateConfig } from "../resources/types.ts";
import type { Window } from "../window/types.ts";

/**
 * A group's maintenance window. time-based: `start_hour` for `maintenance_window_minutes`. halt-on-error:
 * the start hour itself (60 minutes), the time in which a group may start.
 */
export function groupWindow(config: AutoupdateConfig, group: AgentGroupConfig): Window {
  const timeBased = config.spec.agents.strategy === "time-based";
  return {
    days: group.days,
    startHour: group.startHour,
    durationMinutes: timeBased ? config.spec.agents.maintenanceWindowMinutes : 60,
  };
}
