/**
 * The progress chart: hosts on the target (reporting it, healthy) per group over time, from each host's
 * reports (history.ts) and the rollout's stored events, and its geometry for an inline SVG. Pure.
 *
 * A host counts at time t when its latest report at or before t names the target version and state ok, in
 * the group that report counts in. The time axis runs from the rollout's start (or the oldest report) to
 * now, in `buckets` steps; each point is the count at the end of its step. One pass over the reports, no
 * sort: O(reports + groups x buckets).
 */
import type { EventView } from "../wire/views.ts";
import type { HostReport } from "./history.ts";

export interface ChartInput {
  history: Iterable<readonly HostReport[]>;
  /** The version counted as on target (the effective target), or null: no rollout, an empty chart. */
  target: string | null;
  /** Configured groups, in order. */
  groups: readonly string[];
  /** The group the rollout counts a reported group in. */
  groupOf: (group: string) => string;
  /** Rollout start (epoch ms), or null. */
  from: number | null;
  now: number;
  events: readonly EventView[];
  buckets?: number;
}

export interface ChartModel {
  from: number;
  to: number;
  /** The largest count of any group at any point (at least 1). */
  max: number;
  series: { group: string; points: number[]; last: number }[];
  /** Group transitions in the time range, oldest first. */
  marks: { at: number; group: string; text: string }[];
}

export const DEFAULT_BUCKETS = 60;
const HOUR = 3_600_000;

export function progressChart(input: ChartInput): ChartModel {
  const buckets = Math.max(1, input.buckets ?? DEFAULT_BUCKETS);
  const to = input.now;
  const from = Math.min(input.from ?? firstReport(input.history, to), to - 60_000);
  const step = (to - from) / buckets;
  const deltas = new Map(input.groups.map((g) => [g, new Array<number>(buckets).fill(0)]));
  const bucketOf = (t: number) => Math.min(buckets - 1, Math.max(0, Math.ceil((t - from) / step) - 1));
  if (input.target !== null) {
    for (const reports of input.history) {
      let inGroup: string | undefined;
      for (const r of reports) {
        if (r.from > to) break;
        const on = r.state === "ok" && r.version === input.target ? input.groupOf(r.group) : undefined;
        if (on === inGroup) continue;
        const at = bucketOf(r.from);
        if (inGroup !== undefined) add(deltas, inGroup, at, -1);
        if (on !== undefined) add(deltas, on, at, 1);
        inGroup = on;
      }
    }
  }
  let max = 1;
  const series = input.groups.map((group) => {
    let n = 0;
    const points = (deltas.get(group) ?? []).map((d) => {
      n += d;
      max = Math.max(max, n);
      return n;
    });
    return { group, points, last: n };
  });
  const marks = input.events
    .map((e) => ({ at: Date.parse(e.time), group: e.group, text: e.reason }))
    .filter((m) => Number.isFinite(m.at) && m.at >= from && m.at <= to && m.group !== "");
  return { from, to, max, series, marks };
}

function add(deltas: Map<string, number[]>, group: string, at: number, d: number): void {
  const row = deltas.get(group);
  if (row) row[at] = (row[at] ?? 0) + d;
}

function firstReport(history: Iterable<readonly HostReport[]>, now: number): number {
  let first = now - HOUR;
  for (const reports of history) first = Math.min(first, reports[0]?.from ?? first);
  return first;
}

export interface ChartGeometry {
  width: number;
  height: number;
  /** Plot area. */
  left: number;
  top: number;
  right: number;
  bottom: number;
  lines: { group: string; points: string; last: number; x: number; y: number }[];
  marks: { x: number; group: string; text: string; at: number }[];
  yTicks: { y: number; value: number }[];
}

/** Where each line and mark falls in a `width` x `height` SVG (y grows downwards), rounded to 0.1. */
export function chartGeometry(m: ChartModel, width: number, height: number): ChartGeometry {
  const left = 36;
  const top = 8;
  const right = width - 8;
  const bottom = height - 20;
  const r = (v: number) => Math.round(v * 10) / 10;
  const xOf = (i: number, n: number) => r(left + ((right - left) * i) / Math.max(1, n - 1));
  const yOf = (v: number) => r(bottom - ((bottom - top) * v) / m.max);
  const lines = m.series.map((s) => {
    const n = s.points.length;
    return {
      group: s.group,
      points: s.points.map((v, i) => `${xOf(i, n)},${yOf(v)}`).join(" "),
      last: s.last,
      x: xOf(n - 1, n),
      y: yOf(s.last),
    };
  });
  const span = Math.max(1, m.to - m.from);
  const marks = m.marks.map((k) => ({ ...k, x: r(left + ((right - left) * (k.at - m.from)) / span) }));
  const yTicks = [...new Set([0, Math.round(m.max / 2), m.max])].map((value) => ({ y: yOf(value), value }));
  return { width, height, left, top, right, bottom, lines, marks, yTicks };
}
