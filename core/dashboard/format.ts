/** Times and spans in words for the dashboard: `3h 12m`, `in 2d 4h`, `5 min ago`. Pure: `now` is passed in. */

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A span in at most two units: `45s`, `12m`, `3h 12m`, `2d 4h`. Negative spans are taken as positive. */
export function span(ms: number): string {
  const a = Math.abs(ms);
  if (a < MIN) return `${Math.floor(a / 1000)}s`;
  if (a < HOUR) return `${Math.floor(a / MIN)}m`;
  if (a < DAY) {
    const m = Math.floor((a % HOUR) / MIN);
    return `${Math.floor(a / HOUR)}h${m ? ` ${m}m` : ""}`;
  }
  const h = Math.floor((a % DAY) / HOUR);
  return `${Math.floor(a / DAY)}d${h ? ` ${h}h` : ""}`;
}

/** `in 3h 12m` for a time after `now`, `5m ago` for one before it, `now` within a second. */
export function relative(iso: string | number, now: number): string {
  const t = typeof iso === "number" ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const d = t - now;
  if (Math.abs(d) < 1000) return "now";
  return d > 0 ? `in ${span(d)}` : `${span(d)} ago`;
}

/** `2026-11-23 08:30 UTC`: an ISO time shortened for a table cell (the full ISO goes in a title). */
export function shortTime(iso: string | number): string {
  const t = typeof iso === "number" ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso);
  return `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** `1 host`, `3 hosts`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
