/** The dashboard's stylesheet, served at /dashboard/assets/app.css: light and dark, laptop and phone. */
export const APP_CSS = `:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #1b1f24; --muted: #5b6673; --line: #d7dce2;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --other: #8c959f; --accent: #0969da; --track: #eaeef2;
  --s0: #0969da; --s1: #8250df; --s2: #bf3989; --s3: #1a7f37; --s4: #bc4c00; --s5: #57606a;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #9198a1; --line: #30363d;
    --ok: #3fb950; --bad: #f85149; --warn: #d29922; --other: #6e7681; --accent: #4493f8; --track: #21262d;
    --s0: #4493f8; --s1: #ab7df8; --s2: #f778ba; --s3: #3fb950; --s4: #f0883e; --s5: #9198a1;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.who { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
.who form { margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin: 0 0 .6rem; } h3 { font-size: 1.05rem; margin: 0; display: inline; }
.muted, .note { color: var(--muted); }
.note { display: block; font-size: .9em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1rem; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(260px, 100%), 1fr)); gap: .5rem 1.5rem; margin: 0; }
.facts div { min-width: 0; }
.facts dt { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.facts.small { grid-template-columns: repeat(auto-fill, minmax(min(220px, 100%), 1fr)); font-size: .93em; margin: .6rem 0; }
.ver { font-weight: 600; font-family: ui-monospace, monospace; }
.warn { color: var(--warn); display: block; }
.empty { color: var(--muted); font-style: italic; }
.groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(340px, 100%), 1fr)); gap: 1rem; }
.group { min-width: 0; }
.group header { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.group .reason { margin: .4rem 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; border: 1px solid var(--line); white-space: nowrap; }
.badge.state-active, .badge.state-canary { border-color: var(--accent); color: var(--accent); }
.badge.state-done, .badge.host-ok { border-color: var(--ok); color: var(--ok); }
.badge.state-rolledback, .badge.host-failed, .badge.host-rolledback { border-color: var(--bad); color: var(--bad); }
.badge.forced { border-color: var(--warn); color: var(--warn); }
.group.state-rolledback { border-color: var(--bad); }
.progress svg { width: 100%; height: 12px; display: block; border-radius: 4px; }
.progress rect.track { fill: var(--track); } .progress rect.ok { fill: var(--ok); } .progress rect.bad { fill: var(--bad); } .progress rect.other { fill: var(--other); }
.progress-text { margin: .2rem 0 0; font-size: .9em; color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
caption { text-align: left; font-weight: 600; padding: .4rem 0 .2rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.mini { font-size: .9em; margin-top: .4rem; }
.hist td.bar { width: 40%; } .hist svg { width: 100%; height: 8px; display: block; } .hist rect { fill: var(--other); }
.hist tr.target rect { fill: var(--ok); } .hist tr.target td { font-weight: 600; }
.scroll { overflow-x: auto; }
table.hosts td.error { max-width: 28rem; overflow-wrap: anywhere; color: var(--bad); }
tr.absent td { opacity: .6; }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; margin-top: .6rem; }
form.act { margin: 0; display: inline; }
button { font: inherit; padding: .3rem .8rem; border-radius: 6px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; min-height: 2rem; }
button:hover { border-color: var(--accent); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { border-color: var(--bad); color: var(--bad); }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
input, select { font: inherit; padding: .25rem .4rem; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin-bottom: .6rem; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
.pager { display: flex; gap: 1rem; margin-top: .6rem; }
.chart { width: 100%; height: auto; max-height: 260px; }
.chart .axis { stroke: var(--muted); } .chart .grid { stroke: var(--line); stroke-dasharray: 2 3; }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .mark { stroke: var(--warn); stroke-dasharray: 3 3; stroke-width: 1.5; }
.chart polyline.series { fill: none; stroke-width: 2; }
${[0, 1, 2, 3, 4, 5].map((i) => `.chart .s${i} { stroke: var(--s${i}); } .chart circle.s${i}, .swatch.s${i} { fill: var(--s${i}); background: var(--s${i}); }`).join("\n")}
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; list-style: none; padding: 0; margin: .4rem 0 0; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .35rem; vertical-align: -1px; }
.timeline { list-style: none; padding: 0; margin: 0; max-height: 28rem; overflow-y: auto; }
.timeline li { border-left: 3px solid var(--line); padding: .2rem .8rem .4rem; margin-left: .3rem; }
.timeline p { margin: .1rem 0 0; overflow-wrap: anywhere; }
.group-name { font-weight: 600; } .change { font-family: ui-monospace, monospace; font-size: .9em; }
#result:empty { display: none; }
#result { padding: .6rem 1rem; border-radius: 8px; margin-bottom: 1rem; border: 1px solid var(--line); background: var(--card); overflow-wrap: anywhere; }
#result.ok { border-color: var(--ok); } #result.refused, .refused { border-color: var(--bad); color: var(--bad); }
#live-status[data-kind="error"] { color: var(--bad); }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg); max-width: min(32rem, 92vw); }
dialog::backdrop { background: rgb(0 0 0 / .45); }
dialog .buttons { display: flex; gap: .6rem; justify-content: flex-end; }
.login { max-width: 28rem; margin: 3rem auto; }
.login form { display: flex; flex-direction: column; gap: .6rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 600px) {
  main { padding: .5rem; }
  .groups { grid-template-columns: 1fr; }
  .card { padding: .75rem; }
}
`;
