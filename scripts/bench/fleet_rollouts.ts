/**
 * The rollouts of the fleet simulator (scripts/bench/fleet.ts), driven as an operator would (`start` of each
 * group once the one before it is done) and checked group by group: A, where a few agents of each group fail
 * (below the threshold: every group done), and B, where the canaries of one group fail (it rolls back and
 * every later group is halted).
 */
import { FIND_PERIOD_S, type FleetArgs } from "./fleet_args.ts";
import type { Cluster } from "./fleet_cluster.ts";
import { START_A, TARGET_A, TARGET_B, VERSIONS } from "./fleet_model.ts";
import type { Fleet } from "./fleet_sim.ts";
import { versionDoc, type World } from "./fleet_world.ts";

interface GroupView {
  name: string;
  state: string;
  reason: string;
  present_count: number;
  up_to_date_count: number;
  failed_count: number;
}

export interface RolloutCheck {
  name: string;
  right: boolean;
  seconds: number;
  lines: string[];
}

interface EventView {
  time: string;
  group: string;
  from: string;
  to: string;
}

/**
 * Something done once while rollout A runs, after the start of `group` and `delayS` more: the kill -9 of the
 * reconciling replica (fleet_failover.ts). Its lines join the rollout's; `right` false makes the rollout WRONG.
 */
export interface MidRollout {
  group: string;
  delayS: number;
  run: () => Promise<{ right: boolean; lines: string[] }>;
}

/**
 * The operator's view of the rollout (groups and latest events), from the first replica alive; a replica
 * that does not answer (killed a moment ago) is tried again, for up to 30 s.
 */
async function rolloutView(w: World, c: Cluster): Promise<{ groups: GroupView[]; events: EventView[] }> {
  for (let tries = 1; ; tries++) {
    try {
      return (await w.apiJson(c.adminUrl(), "GET", "/v1/rollout")) as {
        groups: GroupView[];
        events: EventView[];
      };
    } catch (e) {
      if (tries >= 150) throw e;
      await Bun.sleep(200);
    }
  }
}

/** `POST /v1/rollout/groups/NAME/start`: its status and the start of its answer. */
async function startGroup(w: World, c: Cluster, name: string): Promise<{ status: number; text: string }> {
  const r = await w.api(c.adminUrl(), "POST", `/v1/rollout/groups/${name}/start`);
  return { status: r.status, text: (await r.text()).slice(0, 200) };
}

/**
 * Transitions written more than once since `since` (ms): with replicas, a reconciler that lost its lease
 * must not write what the new one writes again. Lines naming each, none when every one is written once.
 */
function duplicated(events: EventView[], since: number): string[] {
  const seen = new Map<string, number>();
  for (const e of events) {
    if (Date.parse(e.time) < since) continue;
    const k = `${e.group} ${e.from} -> ${e.to}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `WRONG transition written ${n} times: ${k}`);
}

/**
 * Acts as the operator: starts each group when the one before it is done, until every group is done, a
 * group rolls back, or the time is up. Returns the last view, when each group changed state (the lines of
 * the check: the timeline, whether the time ran out, transitions written twice, what `mid` found) and
 * whether it finished in time and right so far.
 */
async function drive(
  w: World,
  c: Cluster,
  timeoutS: number,
  mid?: MidRollout,
): Promise<{
  groups: GroupView[];
  lines: string[];
  finished: boolean;
  seconds: number;
  right: boolean;
  startedAt: Map<string, number>;
}> {
  const t0 = performance.now();
  const since = Date.now();
  const startedAt = new Map<string, number>();
  const seen = new Map<string, string>();
  const timeline: string[] = [];
  const started = new Set<string>();
  let midRun: Promise<{ right: boolean; lines: string[] }> | undefined;
  const pollMs = Math.min(1000, Math.max(100, 5000 / w.a.compress));
  const end = async (groups: GroupView[], events: EventView[], seconds: number, finished: boolean) => {
    const m = (await midRun) ?? { right: true, lines: [] };
    const twice = duplicated(events, since);
    const lines = [`timeline: ${timeline.join(", ")}`, ...m.lines, ...twice];
    if (!finished) lines.push(`not finished after ${seconds.toFixed(0)} s`);
    return { groups, lines, finished, seconds, right: finished && m.right && twice.length === 0, startedAt };
  };
  for (;;) {
    const { groups, events } = await rolloutView(w, c);
    const at = (performance.now() - t0) / 1000;
    for (const g of groups) {
      if (seen.get(g.name) !== g.state) {
        if (seen.has(g.name)) timeline.push(`${g.name} ${g.state} +${at.toFixed(1)}s`);
        seen.set(g.name, g.state);
      }
    }
    // Done at 90% (Teleport's rule): the stragglers of a done group still update; wait for them too.
    const settled = (g: GroupView) =>
      g.state === "done" && g.up_to_date_count + g.failed_count === g.present_count;
    if (groups.every(settled) || groups.some((g) => g.state === "rolledback"))
      return end(groups, events, at, true);
    if (at > timeoutS) return end(groups, events, at, false);
    const next = groups.find((g) => g.state !== "done");
    if (next?.state === "unstarted" && !started.has(next.name)) {
      started.add(next.name);
      startedAt.set(next.name, Date.now());
      const r = await startGroup(w, c, next.name);
      if (r.status < 200 || r.status > 299) timeline.push(`start ${next.name}: ${r.status} ${r.text}`);
      else timeline.push(`start ${next.name} +${at.toFixed(1)}s`);
      if (mid && next.name === mid.group)
        midRun = Bun.sleep(mid.delayS * 1000).then(() => {
          timeline.push(`kill -9 +${((performance.now() - t0) / 1000).toFixed(1)}s`);
          return mid.run();
        });
    }
    await Bun.sleep(pollMs);
  }
}

/**
 * Lines for the groups some of whose agents were told to update to `target` before the operator started the
 * group (or when it never was: halted): a wrong answer, whichever replica gave it. None when there were none.
 */
export function toldEarly(
  replica: (k: number) => string,
  fleet: Fleet,
  groups: string[],
  target: number,
  startedAt: Map<string, number>,
): string[] {
  const lines: string[] = [];
  groups.forEach((name, g) => {
    const k = g * VERSIONS.length + target;
    const first = fleet.firstToldAt[k] as number;
    const start = startedAt.get(name);
    if (first === 0 || (start !== undefined && first >= start)) return;
    const when =
      start === undefined ? "never started" : `started ${((start - first) / 1000).toFixed(2)} s later`;
    lines.push(
      `WRONG ${name}: ${fleet.toldCount[k]} agents told to update to ${VERSIONS[target]} before the group started (${when}); the first by ${replica(fleet.firstToldBy[k] as number)}`,
    );
  });
  return lines;
}

/** Time for a rollout through k groups: two find periods and an update per group, twice over, + 60 s. */
function rolloutTimeout(a: FleetArgs, k: number): number {
  return (k * 2 * (FIND_PERIOD_S + a.updateSeconds[1] + a.jitter) * 2) / a.compress + 60;
}

/** A group's verdict line: `ok` or WRONG with what was expected. */
function groupLine(g: GroupView, ok: boolean, expected: string): string {
  const view = `${g.name} ${g.state} (present ${g.present_count}, up to date ${g.up_to_date_count}, failed ${g.failed_count}): ${g.reason}`;
  return `${ok ? "ok   " : "WRONG"} ${view}${ok ? "" : ` [expected ${expected}]`}`;
}

export async function rolloutA(w: World, c: Cluster, fleet: Fleet, mid?: MidRollout): Promise<RolloutCheck> {
  const r = await drive(w, c, rolloutTimeout(w.a, w.a.groups.length), mid);
  const early = toldEarly((k) => c.name(k), fleet, w.a.groups, TARGET_A, r.startedAt);
  r.lines.push(...early);
  let right = r.right && early.length === 0;
  r.groups.forEach((g, i) => {
    const size = fleet.groupSize(i);
    const failed = fleet.failuresA[i] as number;
    const ok =
      g.state === "done" &&
      g.failed_count === failed &&
      g.present_count === size &&
      g.up_to_date_count === size - failed;
    if (!ok) right = false;
    r.lines.push(groupLine(g, ok, `done, ${size} present, ${failed} failed`));
  });
  return {
    name: `A ${VERSIONS[START_A]} -> ${VERSIONS[TARGET_A]}, ${(w.a.failRatio * 100).toFixed(1)}% of each group fail (threshold 10%): every group done`,
    right,
    seconds: r.seconds,
    lines: r.lines,
  };
}

/**
 * After group HALT rolled back, later groups must stay halted: waits a while (a find period and a few polls),
 * then asks to start the next one, which must be refused (409). Returns whether it was, and the last view.
 */
async function haltHolds(
  w: World,
  c: Cluster,
  lines: string[],
): Promise<{ held: boolean; groups: GroupView[] }> {
  const { a } = w;
  await Bun.sleep(Math.max(1000, ((FIND_PERIOD_S + a.updateSeconds[1]) * 1000) / a.compress));
  const { groups } = await rolloutView(w, c);
  const next = a.groups[a.haltGroup + 1];
  if (!next) return { held: true, groups };
  const res = await startGroup(w, c, next);
  const held = res.status === 409;
  lines.push(
    `start ${next} (after ${a.groups[a.haltGroup]} rolled back): ${res.status}${held ? " (refused, right)" : " WRONG"}`,
  );
  return { held, groups: (await rolloutView(w, c)).groups };
}

export async function rolloutB(w: World, c: Cluster, fleet: Fleet): Promise<RolloutCheck> {
  const HALT = w.a.haltGroup;
  await w.apiJson(c.adminUrl(), "POST", "/v1/apply", { resources: [versionDoc(TARGET_A, TARGET_B)] });
  const halt = w.a.groups[HALT];
  const r = await drive(w, c, rolloutTimeout(w.a, HALT < 0 ? w.a.groups.length : HALT + 1));
  let right = r.right;
  let groups = r.groups;
  if (HALT >= 0 && r.finished) {
    const h = await haltHolds(w, c, r.lines);
    if (!h.held) right = false;
    groups = h.groups;
  }
  groups.forEach((g, i) => {
    const size = fleet.groupSize(i);
    let ok: boolean;
    let want: string;
    if (HALT < 0 || i < HALT) {
      want = "done";
      ok = g.state === "done" && g.up_to_date_count === size;
    } else if (i === HALT) {
      // Its canaries all fail, and no other agent of it may be told to update.
      want = "rolledback by a canary, none up to date";
      ok =
        g.state === "rolledback" &&
        /canary/.test(g.reason) &&
        (fleet.canaryFailuresB[i] as number) > 0 &&
        g.up_to_date_count === 0;
    } else {
      want = "unstarted, halted, none up to date";
      ok = g.state === "unstarted" && /halted/.test(g.reason) && g.up_to_date_count === 0;
    }
    if (!ok) right = false;
    r.lines.push(groupLine(g, ok, want));
  });
  const early = toldEarly((k) => c.name(k), fleet, w.a.groups, TARGET_B, r.startedAt);
  r.lines.push(...early);
  if (early.length > 0) right = false;
  const B = `B ${VERSIONS[TARGET_A]} -> ${VERSIONS[TARGET_B]}`;
  return {
    name:
      HALT < 0
        ? `${B}, no failures: every group done`
        : `${B}, the canaries of ${halt} fail: ${halt} rolled back, later groups halted`,
    right,
    seconds: r.seconds,
    lines: r.lines,
  };
}
