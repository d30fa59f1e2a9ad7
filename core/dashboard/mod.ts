/**
 * The dashboard's view models (issue 14), pure: from the rollout view, the config, the releases and the
 * agents, what each part of the page shows. server/dashboard renders them as HTML.
 *
 * @module
 */
export * from "./actions.ts";
export * from "./chart.ts";
export * from "./fleet.ts";
export * from "./format.ts";
export * from "./groups.ts";
export * from "./history.ts";
export * from "./hosts.ts";
export * from "./summary.ts";
