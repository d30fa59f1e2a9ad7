/**
 * What the simulated fleet (scripts/bench/fleet_sim.ts) and its checks share: the versions of a run, the
 * report states as the simulator stores them (one byte an agent), and the server's record of an agent.
 */

/** Versions of the run: agents start on the first three; rollout A goes 1.1.0 -> 1.2.0, B 1.2.0 -> 1.3.0. */
export const VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0"] as const;
export const START_A = 2;
export const TARGET_A = 3;
export const TARGET_B = 4;
export const VERSION_INDEX = new Map<string, number>(VERSIONS.map((v, i) => [v, i]));
/** No version (a byte of the typed arrays: no failed version, no find answer yet). */
export const NONE = 255;

/** Report states by their byte; 0: no report. */
export const STATES = ["", "ok", "updating", "failed", "rolledback"] as const;
export type ReportState = (typeof STATES)[number];
export const S_OK = 1;
export const S_UPDATING = 2;
export const S_ROLLEDBACK = 4;

/** What a server record of an agent must match (the last report answered 2xx). */
export interface AgentRecordView {
  updater_id: string;
  hostname?: string;
  group?: string;
  version: string;
  state: string;
  failed_version?: string;
  last_seen: string;
}
