/** The progress chart as inline SVG: hosts on the target per group over time, with the group transitions. */
import { type ChartModel, chartGeometry, shortTime } from "../../core/dashboard/mod.ts";
import { type Html, html } from "./html.ts";

const W = 640;
const H = 200;

export function chartSection(m: ChartModel, target: string | null): Html {
  const g = chartGeometry(m, W, H);
  const summary = m.series.map((s) => `${s.group}: ${s.last}`).join(", ");
  const desc = target
    ? `Hosts reporting ${target} and healthy, per group, from ${shortTime(m.from)} to ${shortTime(m.to)}. Now: ${summary || "no groups"}.`
    : "No rollout: nothing to draw.";
  return html`<section id="chart" class="card" aria-labelledby="h-chart" data-live-section="chart">
<h2 id="h-chart">Progress <span class="muted">(hosts on ${target ?? "the target"} per group)</span></h2>
<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc">
<title id="chart-title">Rollout progress</title>
<desc id="chart-desc">${desc}</desc>
<line class="axis" x1="${g.left}" y1="${g.bottom}" x2="${g.right}" y2="${g.bottom}"></line>
<line class="axis" x1="${g.left}" y1="${g.top}" x2="${g.left}" y2="${g.bottom}"></line>
${g.yTicks.map((t) => html`<text class="tick" x="${g.left - 4}" y="${t.y + 4}" text-anchor="end">${t.value}</text><line class="grid" x1="${g.left}" y1="${t.y}" x2="${g.right}" y2="${t.y}"></line>`)}
<text class="tick" x="${g.left}" y="${H - 4}">${shortTime(m.from)}</text>
<text class="tick" x="${g.right}" y="${H - 4}" text-anchor="end">now</text>
${g.marks.map((k) => html`<line class="mark" x1="${k.x}" y1="${g.top}" x2="${k.x}" y2="${g.bottom}"><title>${shortTime(k.at)} ${k.text}</title></line>`)}
${g.lines.map((l, i) => html`<polyline class="series s${i % 6}" points="${l.points}"></polyline><circle class="series-dot s${i % 6}" cx="${l.x}" cy="${l.y}" r="3"></circle>`)}
</svg>
<ul class="legend">${g.lines.map((l, i) => html`<li><span class="swatch s${i % 6}" aria-hidden="true"></span>${l.group}: <strong>${l.last}</strong></li>`)}</ul>
</section>`;
}
