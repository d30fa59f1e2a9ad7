/**
 * The fleet simulator's reading of the server's agent list (`GET /v1/agents`), and the check of lost reports
 * over it (scripts/bench/fleet_compare.ts).
 */
import { type Comparison, compareRecords } from "./fleet_compare.ts";
import type { AgentRecordView } from "./fleet_model.ts";
import type { Fleet } from "./fleet_sim.ts";

/** Every agent record the server lists (follows a `next` cursor, for a paginated `/v1/agents`). */
export async function listAgents(get: (path: string) => Promise<unknown>): Promise<AgentRecordView[]> {
  const all: AgentRecordView[] = [];
  let path = "/v1/agents";
  for (let page = 0; page < 100_000; page++) {
    const body = (await get(path)) as Record<string, unknown>;
    const agents = body.agents;
    if (!Array.isArray(agents)) throw new Error(`GET ${path}: no agents list in the answer`);
    all.push(...(agents as AgentRecordView[]));
    const next = body.next ?? body.next_cursor ?? body.cursor;
    if (typeof next !== "string" || next === "") break;
    path = next.startsWith("/") ? next : `/v1/agents?cursor=${encodeURIComponent(next)}`;
  }
  return all;
}

export interface LossCheck extends Comparison {
  when: string;
  listed: number;
}

export async function lossCheck(
  when: string,
  get: (path: string) => Promise<unknown>,
  fleet: Fleet,
): Promise<LossCheck> {
  const records = await listAgents(get);
  const c = compareRecords(fleet, records);
  return { when, listed: records.length, ...c };
}
