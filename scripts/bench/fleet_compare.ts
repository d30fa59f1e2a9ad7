/**
 * The check of lost reports of the fleet simulator: the server's agent list against what it answered 2xx.
 */
import { type AgentRecordView, NONE, STATES, VERSIONS } from "./fleet_model.ts";
import type { Fleet } from "./fleet_sim.ts";

export interface Comparison {
  lost: number;
  /** Agents not checked: they sent or were answered a report after the mark (`quietSince`). */
  busy: number;
  missing: number;
  checked: number;
  unknown: number;
  sample: string[];
}

/** last_seen is the server's clock when it took the report: never before the simulator sent it. A second of
 * slack, in case a server keeps last_seen to the second. */
const SLACK_MS = 1000;

/**
 * Compares the server's agent list with what it answered 2xx: for every agent, the record must be its last
 * acknowledged report (state, version, failed version, seen no earlier than that report was sent), or a
 * later report the server did not acknowledge (it may have kept it). Returns the agents that differ.
 *
 * `quietSince` (a `Fleet.seq` read before the list was): only the agents that neither sent a report nor got
 * an answer since are checked (a list read while the fleet goes on reporting: a report answered after its
 * page was read is not a loss). Undefined: every agent (the load stopped).
 */
export function compareRecords(f: Fleet, records: AgentRecordView[], quietSince?: number): Comparison {
  const byId = new Map<string, AgentRecordView>();
  let unknown = 0;
  const prefix = `sim-${f.o.runId}-`;
  for (const r of records) {
    if (!r.updater_id.startsWith(prefix)) unknown++;
    byId.set(r.updater_id, r);
  }
  let lost = 0;
  let missing = 0;
  let checked = 0;
  let busy = 0;
  const sample: string[] = [];
  for (let i = 0; i < f.n; i++) {
    if (f.ackState[i] === 0) continue;
    if (quietSince !== undefined && (f.touched[i] as number) > quietSince) {
      busy++;
      continue;
    }
    checked++;
    const r = byId.get(f.id(i));
    const is = (state: number, ver: number, failed: number) =>
      r !== undefined &&
      r.state === STATES[state] &&
      r.version === VERSIONS[ver] &&
      (r.failed_version ?? "") === (failed === NONE ? "" : VERSIONS[failed]);
    const acked =
      is(f.ackState[i] as number, f.ackVer[i] as number, f.ackFailed[i] as number) &&
      Date.parse(r?.last_seen ?? "") >= (f.ackAt[i] as number) - SLACK_MS;
    const tried =
      f.tryState[i] !== 0 && is(f.tryState[i] as number, f.tryVer[i] as number, f.tryFailed[i] as number);
    if (acked || tried) continue;
    if (r === undefined) missing++;
    lost++;
    if (sample.length < 3) {
      const want = `${STATES[f.ackState[i] as number]} ${VERSIONS[f.ackVer[i] as number]} sent ${new Date(f.ackAt[i] as number).toISOString()}`;
      sample.push(
        `${f.id(i)}: acknowledged ${want}; server has ${r ? `${r.state} ${r.version} seen ${r.last_seen}` : "nothing"}`,
      );
    }
  }
  return { lost, busy, missing, checked, unknown, sample };
}
