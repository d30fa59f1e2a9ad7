/** The dashboard's sections from one read of the server (data.ts), for the page and for each live refresh. */
import {
  type AgentQuery,
  eventRows,
  groupRows,
  progressChart,
  type ReportHistory,
  rolloutSummary,
} from "../../core/dashboard/mod.ts";
import type { PageData } from "./data.ts";
import { type Html, html } from "./html.ts";
import { page } from "./layout.ts";
import { chartSection } from "./render_chart.ts";
import { groupsSection } from "./render_groups.ts";
import { type HostsContext, hostsSection, hostsTable } from "./render_hosts.ts";
import { eventsSection, summarySection } from "./render_summary.ts";
import type { Session } from "./sessions.ts";

export const SECTIONS = ["summary", "groups", "chart", "hosts", "events"] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface Sections {
  /** What a live refresh replaces, by `data-live-section` name. */
  parts: Record<SectionName, Html>;
  /** Changes when any part changes (the live refresh's ETag). */
  stamp: string;
  hosts: HostsContext;
}

export function sections(d: PageData, q: AgentQuery, session: Session, history: ReportHistory): Sections {
  const target = d.view.effective_target_version ?? d.view.target_version;
  const versions = new Set<string>();
  for (const h of d.stats.versions.values()) for (const v of h.keys()) versions.add(v);
  const hosts: HostsContext = {
    groups: d.config.spec.agents.groups.map((g) => g.name),
    versions: [...versions].sort(),
    groupOf: d.groupOf,
    now: d.now,
  };
  const parts: Record<SectionName, Html> = {
    summary: summarySection(rolloutSummary(d.view, d.releases, d.now), session, d.now),
    groups: groupsSection(groupRows(d.view, d.config, d.stats, d.now), session, d.now),
    chart: chartSection(
      progressChart({
        history: history.hosts(),
        target: d.view.groups.length ? target : null,
        groups: d.view.groups.map((g) => g.name),
        groupOf: d.groupOf,
        from: d.view.started_at ? Date.parse(d.view.started_at) : null,
        now: d.now,
        events: d.view.events,
      }),
      target,
    ),
    hosts: hostsTable(q, d.hosts, hosts),
    events: eventsSection(eventRows(d.view, d.now)),
  };
  const all = SECTIONS.map((k) => parts[k].value).join("\u0000");
  return { parts, stamp: `"${Bun.hash(all).toString(36)}"`, hosts };
}

/** The whole dashboard page. */
export function dashboardPage(s: Sections, q: AgentQuery, session: Session, product: string): Html {
  const flash = session.flash;
  delete session.flash;
  return page({
    title: `upkeep: ${product} rollout`,
    product,
    session,
    body: html`<div id="result" role="status" aria-live="polite"${flash ? html` class="${flash.ok ? "ok" : "refused"}"` : ""}>${flash?.text ?? ""}</div>
<div class="layout" data-live="/dashboard/live" data-stamp="${s.stamp}">
${s.parts.summary}
${s.parts.groups}
${s.parts.chart}
${hostsSection(q, s.parts.hosts, s.hosts)}
${s.parts.events}
</div>`,
  });
}
