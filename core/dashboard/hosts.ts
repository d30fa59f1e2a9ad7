/**
 * The Hosts table's query: filters (group, version, state, hostname prefix) and a page of agents after a
 * cursor. `pageAgents` answers it over every agent in memory, in one pass (no sort of the fleet): it keeps
 * the `limit + 1` smallest updater ids after the cursor. A store that pages itself (issue 13) answers the
 * same `AgentQuery` with the same `AgentPage`. Pure.
 */
import { UpkeepError } from "../errors.ts";
import { REPORT_STATES, type ReportState } from "../wire/report.ts";
import type { AgentView } from "../wire/views.ts";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface AgentQuery {
  /** The group the rollout counts the agent in (an unknown or empty group is the last group). */
  group?: string;
  version?: string;
  state?: ReportState;
  /** Hostname prefix, case-insensitive. */
  hostname?: string;
  limit: number;
  /** Agents after this one (the `next` of the previous page). */
  cursor?: string;
}

export interface AgentPage {
  agents: AgentView[];
  /** Agents matching the filters, on every page. */
  total: number;
  /** The cursor of the next page, or null on the last one. */
  next: string | null;
}

const FIELD_MAX = 255;

/** Reads a query from URL parameters; empty values are no filter. A bad value is refused, naming it. */
export function parseAgentQuery(p: Record<string, string | undefined>): AgentQuery {
  const q: AgentQuery = { limit: DEFAULT_PAGE_SIZE };
  for (const k of ["group", "version", "hostname", "cursor"] as const) {
    const v = p[k]?.trim();
    if (!v) continue;
    if (v.length > FIELD_MAX) throw bad(k, `at most ${FIELD_MAX} characters`);
    q[k] = k === "hostname" ? v.toLowerCase() : v;
  }
  const state = p.state?.trim();
  if (state) {
    if (!(REPORT_STATES as readonly string[]).includes(state))
      throw bad("state", `one of ${REPORT_STATES.join(", ")}`);
    q.state = state as ReportState;
  }
  const limit = p.limit?.trim();
  if (limit) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw bad("limit", `1 to ${MAX_PAGE_SIZE}`);
    q.limit = n;
  }
  return q;
}

function bad(field: string, want: string): UpkeepError {
  return new UpkeepError("E_USAGE", `hosts filter ${field}: must be ${want}`, { exitCode: 2 });
}

/** True when the agent passes the query's filters (not the cursor). */
export function matchesAgent(a: AgentView, q: AgentQuery, groupOf: (group: string) => string): boolean {
  if (q.version !== undefined && a.version !== q.version) return false;
  if (q.state !== undefined && a.state !== q.state) return false;
  if (q.hostname !== undefined && !a.hostname.toLowerCase().startsWith(q.hostname)) return false;
  return q.group === undefined || groupOf(a.group) === q.group;
}

/** One page of the agents matching `q`, by updater id (code-unit order), after `q.cursor`. */
export function pageAgents(
  all: Iterable<AgentView>,
  q: AgentQuery,
  groupOf: (group: string) => string,
): AgentPage {
  const keep = q.limit + 1;
  const best: AgentView[] = [];
  let total = 0;
  for (const a of all) {
    if (!matchesAgent(a, q, groupOf)) continue;
    total++;
    const id = a.updater_id;
    if (q.cursor !== undefined && id <= q.cursor) continue;
    if (best.length === keep && id >= (best[keep - 1] as AgentView).updater_id) continue;
    insertSorted(best, a);
    if (best.length > keep) best.pop();
  }
  const more = best.length > q.limit;
  const agents = more ? best.slice(0, q.limit) : best;
  return { agents, total, next: more ? (agents[agents.length - 1]?.updater_id ?? null) : null };
}

function insertSorted(list: AgentView[], a: AgentView): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as AgentView).updater_id < a.updater_id) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, a);
}
