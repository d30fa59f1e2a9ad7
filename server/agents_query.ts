/**
 * `GET /v1/agents?limit=&cursor=&group=&version=&state=&hostname=&present=`: the query parameters checked
 * (each bad one a 400 naming it) and turned into a store query; the store's page turned into the answer.
 */
import { UsageError } from "../core/errors.ts";
import type { AutoupdateConfig } from "../core/resources/mod.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { type AgentsPage, REPORT_STATES } from "../core/wire/mod.ts";
import type { AgentPage, AgentQuery } from "./store.ts";

export const AGENTS_PAGE_DEFAULT = 100;
export const AGENTS_PAGE_MAX = 1000;
const PARAMS = ["limit", "cursor", "group", "version", "state", "hostname", "present"];

/** The cursor of the page after the one that ended with `updaterId` (opaque to clients). */
export function cursorAfter(updaterId: string): string {
  return Buffer.from(updaterId, "utf8").toString("base64url");
}

function afterCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (id === "" || cursorAfter(id) !== cursor)
    throw new UsageError(`cursor ${JSON.stringify(cursor.slice(0, 60))}: not a cursor this server gave`, {
      hint: "pass the `next` value of the page before, or leave cursor out for the first page",
    });
  return id;
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return AGENTS_PAGE_DEFAULT;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > AGENTS_PAGE_MAX)
    throw new UsageError(`limit ${JSON.stringify(text)}: must be a whole number 1..${AGENTS_PAGE_MAX}`);
  return n;
}

/** The agents counted in `name` (a configured group): those naming it, or for the last group any other. */
function groupOf(config: AutoupdateConfig, name: string): AgentQuery["group"] {
  const names = config.spec.agents.groups.map((g) => g.name);
  if (!names.includes(name))
    throw new UsageError(`group ${JSON.stringify(name)}: not a group of the schedule (${names.join(", ")})`, {
      hint: "agents naming an unknown or no group are counted in the last group",
    });
  return name === names.at(-1) ? { notIn: names.slice(0, -1) } : { is: name };
}

function presentOf(text: string): boolean {
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new UsageError(`present ${JSON.stringify(text)}: use true or false`);
}

/** The store query of a request's parameters; `presentSince`: the ISO time an agent counts from. */
export function agentsQuery(
  params: Record<string, string | undefined>,
  o: { config: AutoupdateConfig; presentSince: string },
): AgentQuery {
  const unknown = Object.keys(params).filter((k) => !PARAMS.includes(k));
  if (unknown.length > 0)
    throw new UsageError(`unknown query parameter ${unknown.map((k) => JSON.stringify(k)).join(", ")}`, {
      hint: `GET /v1/agents takes ${PARAMS.join(", ")}`,
    });
  const q: AgentQuery = { limit: limitOf(params.limit) };
  if (params.cursor !== undefined) q.after = afterCursor(params.cursor);
  if (params.group !== undefined) q.group = groupOf(o.config, params.group);
  if (params.version !== undefined) {
    const v = tryParseVersion(params.version);
    if (!v) throw new UsageError(`version ${JSON.stringify(params.version)}: not a semver version`);
    q.version = formatVersion(v);
  }
  if (params.state !== undefined) {
    if (!(REPORT_STATES as readonly string[]).includes(params.state))
      throw new UsageError(`state ${JSON.stringify(params.state)}: use ${REPORT_STATES.join(", ")}`);
    q.state = params.state;
  }
  if (params.hostname !== undefined) q.hostnamePrefix = params.hostname;
  if (params.present !== undefined) {
    if (presentOf(params.present)) q.seenSince = o.presentSince;
    else q.seenBefore = o.presentSince;
  }
  return q;
}

/** The answer for a store page: each agent with whether it counts now, and the next page's cursor. */
export function agentsPage(page: AgentPage, q: AgentQuery, presentSince: string): AgentsPage {
  const last = page.agents.at(-1);
  return {
    agents: page.agents.map((a) => ({ ...a, present: a.last_seen >= presentSince })),
    total: page.total,
    limit: q.limit,
    next: page.more && last !== undefined ? cursorAfter(last.updater_id) : null,
  };
}
