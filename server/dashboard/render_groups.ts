/** One card per rollout group, in order. */
import { confirmGroupAction, GROUP_ACTION_WORDS, type GroupRow } from "../../core/dashboard/mod.ts";
import { GROUP_ACTIONS } from "../../core/wire/mod.ts";
import { type Child, type Html, html } from "./html.ts";
import { actionForm } from "./layout.ts";
import { time } from "./render_summary.ts";
import type { Session } from "./sessions.ts";

export function groupsSection(rows: GroupRow[], session: Session, now: number): Html {
  return html`<section id="groups" aria-labelledby="h-groups" data-live-section="groups">
<h2 id="h-groups">Groups <span class="muted">(in rollout order)</span></h2>
${rows.length === 0 ? html`<p class="empty card">no groups: there is no rollout yet</p>` : ""}
<div class="groups">${rows.map((g) => groupCard(g, session, now))}</div>
</section>`;
}

const fact = (label: string, value: Child) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;

function groupCard(g: GroupRow, session: Session, now: number): Html {
  return html`<article class="card group state-${g.state}" aria-labelledby="g-${g.name}" data-group="${g.name}">
<header><h3 id="g-${g.name}">${g.name}</h3> <span class="badge state-${g.state}" data-state="${g.state}">${g.stateWords}</span>${g.forced ? html` <span class="badge forced">forced</span>` : ""}</header>
<p class="reason">${g.reason}</p>
${progress(g)}
<dl class="facts small">
${fact("Window", windowText(g, now))}
${g.wait ? fact("Wait", waitText(g.wait)) : ""}
${fact("Told", `${g.effectiveVersion ?? "no version"}: ${g.answer}`)}
${g.startedAt ? fact("Started", time(g.startedAt, now)) : ""}
${fact("Changed", time(g.lastTransition, now))}
${g.blocks ? fact("Later groups", html`<strong>${g.blocks}</strong>`) : ""}
</dl>
${canaries(g)}
${histogram(g)}
${session.kind === "admin" ? actions(g, session) : ""}
</article>`;
}

function windowText(g: GroupRow, now: number): Child {
  const w = g.window;
  if (!w.nextOpen) return w.text;
  return html`${w.text}; ${w.open ? html`<strong>open now</strong>; ` : ""}next opens ${time(w.nextOpen, now)}`;
}

function waitText(w: NonNullable<GroupRow["wait"]>): Child {
  const base = `wait_hours ${w.hours} after ${w.after} started`;
  if (!w.until) return `${base} (not started yet)`;
  return w.remaining
    ? html`${base}: <strong class="countdown">${w.remaining} left</strong> (until ${w.until})`
    : `${base}: passed`;
}

/** Up to date / failed / other as one bar, with the numbers in words beside it. */
function progress(g: GroupRow): Html {
  const p = g.progress;
  const pct = (n: number) => (p.present === 0 ? 0 : (100 * n) / p.present);
  const words = `${p.upToDate} of ${p.present} up to date (${p.percent}%), ${p.failed} failed, ${p.other} other; ${p.initial} at start`;
  let x = 0;
  const seg = (n: number, cls: string) => {
    const w = pct(n);
    const r = html`<rect class="${cls}" x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="10"></rect>`;
    x += w;
    return r;
  };
  return html`<div class="progress">
<svg viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${words}"><rect class="track" x="0" y="0" width="100" height="10"></rect>${seg(p.upToDate, "ok")}${seg(p.failed, "bad")}${seg(p.other, "other")}</svg>
<p class="progress-text">${words}</p>
</div>`;
}

function canaries(g: GroupRow): Child {
  if (g.canaryCount === 0 && g.canaries.length === 0) return "";
  if (g.canaries.length === 0)
    return html`<p class="muted">${g.canaryCount} ${g.canaryCount === 1 ? "canary" : "canaries"}, chosen when the group starts</p>`;
  return html`<table class="mini"><caption>Canaries</caption>
<thead><tr><th scope="col">Host</th><th scope="col">Version</th><th scope="col">Healthy</th><th scope="col">Counted</th></tr></thead>
<tbody>${g.canaries.map(
    (c) =>
      html`<tr><td><a href="/dashboard/hosts/${encodeURIComponent(c.updaterId)}">${c.hostname}</a></td><td>${c.version ?? "no report"}</td><td>${c.healthy ? "yes" : "no"}</td><td>${c.success ? "ok" : "not yet"}</td></tr>`,
  )}</tbody></table>`;
}

function histogram(g: GroupRow): Child {
  if (g.histogram.length === 0) return html`<p class="muted">no present hosts</p>`;
  const max = Math.max(...g.histogram.map((h) => h.count));
  return html`<table class="mini hist"><caption>Versions of its present hosts</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Hosts</th><th scope="col"><span class="sr-only">Share</span></th></tr></thead>
<tbody>${g.histogram.map(
    (h) =>
      html`<tr${h.target ? html` class="target"` : ""}><td>${h.version}${h.target ? " (target)" : ""}</td><td class="num">${h.count}</td><td class="bar"><svg viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true"><rect x="0" y="0" width="${((100 * h.count) / max).toFixed(2)}" height="6"></rect></svg></td></tr>`,
  )}</tbody></table>`;
}

function actions(g: GroupRow, session: Session): Html {
  return html`<div class="actions" role="group" aria-label="Actions on group ${g.name}">${GROUP_ACTIONS.map(
    (a) =>
      actionForm(
        session,
        `/dashboard/groups/${encodeURIComponent(g.name)}/${a}`,
        GROUP_ACTION_WORDS[a].label,
        confirmGroupAction(g.name, a),
        { name: `${GROUP_ACTION_WORDS[a].label} group ${g.name}`, danger: a === "rollback" || a === "force" },
      ),
  )}</div>`;
}
