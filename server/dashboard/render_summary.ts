/** The rollout section and the events timeline. */
import {
  confirmCritical,
  type EventRow,
  type RolloutSummary,
  relative,
  shortTime,
} from "../../core/dashboard/mod.ts";
import { type Child, type Html, html } from "./html.ts";
import { actionForm } from "./layout.ts";
import type { Session } from "./sessions.ts";

export const time = (iso: string, now: number) =>
  html`<time datetime="${iso}" title="${iso}">${shortTime(iso)}</time> <span class="muted">(${relative(iso, now)})</span>`;

const fact = (label: string, value: Child, note?: Child) =>
  html`<div><dt>${label}</dt><dd>${value}${note ? html`<span class="note">${note}</span>` : ""}</dd></div>`;

export function summarySection(s: RolloutSummary, session: Session, now: number): Html {
  const versions = s.exists
    ? html`<span class="ver">${s.start ?? "?"}</span> → <span class="ver">${s.target ?? "?"}</span>${s.effectiveTarget ? html` <span class="muted">(served as ${s.effectiveTarget})</span>` : ""}`
    : html`<span class="muted">none</span>`;
  return html`<section id="summary" class="card" aria-labelledby="h-rollout" data-live-section="summary">
<h2 id="h-rollout">Rollout</h2>
${s.exists ? "" : html`<p class="empty">no rollout: set autoupdate_version spec.agents (<code>upkeep admin apply -f version.yaml</code>); until then agents are told no version</p>`}
<dl class="facts">
${fact("Versions", versions)}
${fact("Strategy", `${s.strategy}${s.schedule ? `, schedule ${s.schedule}` : ""}`)}
${fact("Mode", s.mode ?? "-")}
${s.startedAt ? fact("Started", time(s.startedAt, now)) : ""}
${fact("Server version", s.serverVersion ?? html`<strong>not set</strong>`, s.serverNote)}
${s.tools ? fact("Client tools", s.tools) : ""}
${fact("Release manifest", manifestText(s), s.manifest?.warning ? html`<strong class="warn" role="alert">WARNING: ${s.manifest.warning}</strong>` : "")}
${fact("Critical releases", s.critical.length ? s.critical.join(", ") : "none", criticalForms(s, session))}
</dl>
${s.adjusted.length ? html`<ul class="adjusted">${s.adjusted.map((a) => html`<li>${a}</li>`)}</ul>` : ""}
</section>`;
}

function manifestText(s: RolloutSummary): Child {
  const m = s.manifest;
  if (!m) return s.noManifest;
  return html`serial ${m.serial}, floor ${m.floor ?? "none"}, ${m.expired ? "expired" : "expires"} <time datetime="${m.expires}" title="${m.expires}">${shortTime(m.expires)}</time> (${m.expiresIn}); versions ${m.versions.join(", ") || "none"}`;
}

function criticalForms(s: RolloutSummary, session: Session): Child {
  if (session.kind !== "admin") return "";
  const forms: Html[] = [];
  if (s.target && !s.critical.includes(s.target))
    forms.push(
      actionForm(
        session,
        "/dashboard/critical",
        `Flag ${s.target} critical`,
        confirmCritical(s.target, true),
        {
          fields: { version: s.target, critical: "true" },
        },
      ),
    );
  for (const v of s.critical)
    forms.push(
      actionForm(session, "/dashboard/critical", `Unflag ${v}`, confirmCritical(v, false), {
        fields: { version: v, critical: "false" },
        name: `Remove the critical flag of ${v}`,
      }),
    );
  return forms.length ? html`<span class="actions">${forms}</span>` : "";
}

export function eventsSection(rows: EventRow[]): Html {
  return html`<section id="events" class="card" aria-labelledby="h-events" data-live-section="events">
<h2 id="h-events">Events <span class="muted">(newest first)</span></h2>
${
  rows.length === 0
    ? html`<p class="empty">no events yet</p>`
    : html`<ol class="timeline">${rows.map(
        (e) => html`<li>
<time datetime="${e.time}" title="${e.time}">${shortTime(e.time)}</time> <span class="muted">${e.ago}</span>
${e.group ? html`<span class="group-name">${e.group}</span>` : ""}${e.change ? html` <span class="change">${e.change}</span>` : ""}
<p>${e.text}</p></li>`,
      )}</ol>`
}
</section>`;
}
