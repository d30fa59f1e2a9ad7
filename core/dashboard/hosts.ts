/**
 * The Hosts table's query, read from the page's URL: filters (group, version, state, hostname prefix) and a
 * page of agents after a cursor (an updater id). The store answers it, one query a page
 * (server/dashboard/data.ts); what it answers is an `AgentPage`. Pure.
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
  /** Hostname prefix, ASCII letters in any case (the store's index folds case, as DNS compares names). */
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
    q[k] = v;
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
