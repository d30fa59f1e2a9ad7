/**
 * The fleet simulator's reading of the server's agent list (`GET /v1/agents`, paged: `limit`, `cursor`,
 * `next`), checked to be whole, and the check of lost reports over it (scripts/bench/fleet_compare.ts).
 */
import { type Comparison, compareRecords } from "./fleet_compare.ts";
import type { AgentRecordView } from "./fleet_model.ts";
import type { Fleet } from "./fleet_sim.ts";

export interface AgentList {
  records: AgentRecordView[];
  pages: number;
  /** The server's count of its agents (`total`), or null when it gives none (a server that lists whole). */
  total: number | null;
  /** Why the list is not every agent the server has ("" when it is): a page missing, repeated, or cut short. */
  problem: string;
}

/**
 * Every agent record the server lists: pages of `pageSize` (the server's most is 1,000), following `next`
 * until it is null. Checks that no agent comes twice (a cursor ignored or gone back: stops there rather than
 * loop) and that the records are as many as the server's `total`. `get` answers a path's JSON.
 */
export async function listAgents(
  get: (path: string) => Promise<unknown>,
  pageSize = 1000,
): Promise<AgentList> {
  const records: AgentRecordView[] = [];
  const ids = new Set<string>();
  const totals = new Set<number>();
  let problem = "";
  let pages = 0;
  let path = `/v1/agents?limit=${pageSize}`;
  for (;;) {
    const body = (await get(path)) as { agents?: unknown; total?: unknown; next?: unknown };
    pages++;
    if (!Array.isArray(body.agents)) throw new Error(`GET ${path}: no agents list in the answer`);
    if (typeof body.total === "number") totals.add(body.total);
    for (const r of body.agents as AgentRecordView[]) {
      if (ids.has(r.updater_id)) problem ||= `page ${pages} lists ${r.updater_id} again`;
      ids.add(r.updater_id);
      records.push(r);
    }
    if (problem || typeof body.next !== "string" || body.next === "") break;
    path = `/v1/agents?limit=${pageSize}&cursor=${encodeURIComponent(body.next)}`;
  }
  const total = totals.size > 0 ? (totals.values().next().value as number) : null;
  if (!problem && totals.size > 1)
    problem = `the total changed from page to page (${[...totals].join(", ")})`;
  if (!problem && total !== null && records.length !== total)
    problem = `listed ${records.length} agents of the ${total} the server counts`;
  return { records, pages, total, problem };
}

export interface LossCheck extends Comparison {
  when: string;
  listed: number;
  pages: number;
  /** Why the listing is not the server's every agent ("" when it is): the check then cannot pass. */
  listProblem: string;
}

/**
 * Whether the server lists every acknowledged report of `fleet`. `live`: the fleet goes on reporting while the
 * list is read, so only the agents quiet from before the first page to after the last are checked.
 */
export async function lossCheck(
  when: string,
  get: (path: string) => Promise<unknown>,
  fleet: Fleet,
  pageSize?: number,
  live = false,
): Promise<LossCheck> {
  const mark = live ? fleet.seq : undefined;
  const list = await listAgents(get, pageSize);
  const c = compareRecords(fleet, list.records, mark);
  return { when, listed: list.records.length, pages: list.pages, listProblem: list.problem, ...c };
}
