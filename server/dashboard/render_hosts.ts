/** The Hosts table: filters (a GET form), one page of agents, and the link to the next page. */
import {
  type AgentPage,
  type AgentQuery,
  type HostReport,
  relative,
  shortTime,
} from "../../core/dashboard/mod.ts";
import { REPORT_STATES } from "../../core/wire/report.ts";
import type { AgentView } from "../../core/wire/views.ts";
import { type Child, type Html, html } from "./html.ts";
import { time } from "./render_summary.ts";

/** The query string of a hosts query (filters, and the cursor when given). */
export function hostsQueryString(q: AgentQuery, cursor?: string | null): string {
  const p = new URLSearchParams();
  for (const k of ["group", "version", "state", "hostname"] as const) if (q[k]) p.set(k, q[k] as string);
  if (q.limit !== 50) p.set("limit", String(q.limit));
  if (cursor) p.set("cursor", cursor);
  const s = p.toString();
  return s ? `?${s}` : "";
}

const option = (value: string, label: string, selected: boolean) =>
  html`<option value="${value}"${selected ? html` selected` : ""}>${label}</option>`;

function filters(q: AgentQuery, groups: readonly string[], versions: readonly string[]): Html {
  return html`<form class="filters" method="get" action="/dashboard#hosts" role="search" aria-label="Filter hosts">
<label>Group <select name="group">${option("", "any", !q.group)}${groups.map((g) => option(g, g, q.group === g))}</select></label>
<label>Version <input name="version" list="known-versions" value="${q.version ?? ""}" size="10" autocomplete="off"></label>
<datalist id="known-versions">${versions.map((v) => html`<option value="${v}"></option>`)}</datalist>
<label>State <select name="state">${option("", "any", !q.state)}${REPORT_STATES.map((s) => option(s, s, q.state === s))}</select></label>
<label>Hostname <input type="search" name="hostname" value="${q.hostname ?? ""}" placeholder="starts with" autocomplete="off"></label>
<button type="submit">Filter</button> <a href="/dashboard#hosts">Clear</a>
</form>`;
}

export interface HostsContext {
  groups: readonly string[];
  versions: readonly string[];
  groupOf: (g: string) => string;
  now: number;
}

/** The Hosts section: its filters (left alone by live refreshes, so typing is not lost) and its table. */
export function hostsSection(q: AgentQuery, table: Html, o: HostsContext): Html {
  return html`<section id="hosts" class="card" aria-labelledby="h-hosts">
<h2 id="h-hosts">Hosts</h2>
${filters(q, o.groups, o.versions)}
${table}
</section>`;
}

/** The live part of the Hosts section: the count, one page of hosts, the pager. */
export function hostsTable(q: AgentQuery, page: AgentPage, o: HostsContext): Html {
  const shown = page.agents.length;
  return html`<div data-live-section="hosts">
<p class="muted" id="hosts-count">${shown} shown of ${page.total.toLocaleString("en-US")} matching ${page.total === 1 ? "host" : "hosts"}${q.cursor ? " (after the first page)" : ""}</p>
<div class="scroll"><table class="hosts">
<thead><tr><th scope="col">Hostname</th><th scope="col">Group</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Failed version</th><th scope="col">Updater</th><th scope="col">Last error</th><th scope="col">Last seen</th></tr></thead>
<tbody>${page.agents.map((a) => hostRow(a, o.groupOf, o.now))}</tbody>
</table></div>
<nav class="pager" aria-label="Hosts pages">${q.cursor ? html`<a href="/dashboard${hostsQueryString(q)}#hosts">First page</a>` : ""}${page.next ? html`<a rel="next" href="/dashboard${hostsQueryString(q, page.next)}#hosts">Next page</a>` : ""}</nav>
</div>`;
}

function hostRow(a: AgentView, groupOf: (g: string) => string, now: number): Html {
  const g = groupOf(a.group);
  return html`<tr class="${a.present ? "" : "absent"}" data-host="${a.hostname}">
<td><a href="/dashboard/hosts/${encodeURIComponent(a.updater_id)}">${a.hostname}</a></td>
<td>${g}${a.group !== g ? html` <span class="muted">(reported ${a.group ? `"${a.group}"` : "none"})</span>` : ""}</td>
<td>${a.version}</td>
<td><span class="badge host-${a.state}">${a.state}</span>${a.present ? "" : html` <span class="muted">not present</span>`}</td>
<td>${a.failed_version ?? ""}</td>
<td class="updater">${updaterCell(a)}</td>
<td class="error">${a.error ?? ""}</td>
<td><time datetime="${a.last_seen}" title="${a.last_seen}">${relative(a.last_seen, now)}</time></td>
</tr>`;
}

/**
 * The upkeep version the host's updater runs (DESIGN §9), and a self-update of it that failed; empty for an
 * agent too old to report it.
 */
function updaterCell(a: AgentView): Html | string {
  const v = a.updater_version ?? "";
  if (!a.updater_failed_version) return v;
  return html`${v} <span class="error">(${a.updater_failed_version} failed)</span>`;
}

/** One host's page: its last report and its recent reports. */
export function hostDetail(a: AgentView, group: string, reports: HostReport[], now: number): Html {
  const fact = (label: string, v: Child) => html`<div><dt>${label}</dt><dd>${v}</dd></div>`;
  return html`<p><a href="/dashboard#hosts">← all hosts</a></p>
<section class="card" aria-labelledby="h-host">
<h2 id="h-host">${a.hostname}</h2>
<dl class="facts">
${fact("Updater id", a.updater_id)}
${fact("Group", `${group}${a.group !== group ? ` (reported ${a.group ? `"${a.group}"` : "none"})` : ""}`)}
${fact("Version", a.version)}
${fact("State", `${a.state}${a.present ? "" : " (not present: not heard from within the agent timeout)"}`)}
${a.failed_version ? fact("Failed version", a.failed_version) : ""}
${a.updater_version || a.updater_failed_version ? fact("Updater (upkeep)", updaterCell(a)) : ""}
${a.error ? fact("Last error", html`<span class="error">${a.error}</span>`) : ""}
${fact("Last seen", time(a.last_seen, now))}
</dl>
</section>
<section class="card" aria-labelledby="h-reports">
<h2 id="h-reports">Recent reports <span class="muted">(newest first; repeats of the same report are counted)</span></h2>
<div class="scroll"><table class="hosts">
<thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Reports</th><th scope="col">Group</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Failed version</th><th scope="col">Error</th></tr></thead>
<tbody>${reports.map(
    (r) =>
      html`<tr><td>${shortTime(r.from)}</td><td>${shortTime(r.to)}</td><td class="num">${r.count}</td><td>${r.group || "-"}</td><td>${r.version}</td><td>${r.state}</td><td>${r.failed_version ?? ""}</td><td class="error">${r.error ?? ""}</td></tr>`,
  )}</tbody></table></div>
<p class="muted">Kept in the server's memory since it started (the store keeps each host's last report only).</p>
</section>`;
}
