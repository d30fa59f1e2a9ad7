/**
 * The rollouts of the fleet simulator (scripts/bench/fleet.ts), driven as an operator would (`start` of each
 * group once the one before it is done) and checked group by group: A, where a few agents of each group fail
 * (below the threshold: every group done), and B, where the canaries of one group fail (it rolls back and
 * every later group is halted).
 */
import { FIND_PERIOD_S, type FleetArgs } from "./fleet_args.ts";
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

async function rolloutView(w: World, url: string): Promise<GroupView[]> {
  const view = (await w.apiJson(url, "GET", "/v1/rollout")) as { groups: GroupView[] };
  return view.groups;
}

/** `POST /v1/rollout/groups/NAME/start`: its status and the start of its answer. */
async function startGroup(w: World, url: string, name: string): Promise<{ status: number; text: string }> {
  const r = await w.api(url, "POST", `/v1/rollout/groups/${name}/start`);
  return { status: r.status, text: (await r.text()).slice(0, 200) };
}

/**
 * Acts as the operator: starts each group when the one before it is done, until every group is done, a
 * group rolls back, or the time is up. Returns the last view, when each group changed state (the lines of
 * the check: the timeline, and whether the time ran out) and whether it finished in time.
 */
async function drive(
  w: World,
  url: string,
  timeoutS: number,
): Promise<{ groups: GroupView[]; lines: string[]; finished: boolean; seconds: number }> {
  const t0 = performance.now();
  const seen = new Map<string, string>();
  const timeline: string[] = [];
  const started = new Set<string>();
  const pollMs = Math.min(1000, Math.max(100, 5000 / w.a.compress));
  const end = (groups: GroupView[], seconds: number, finished: boolean) => {
    const lines = [`timeline: ${timeline.join(", ")}`];
    if (!finished) lines.push(`not finished after ${seconds.toFixed(0)} s`);
    return { groups, lines, finished, seconds };
  };
  for (;;) {
    const groups = await rolloutView(w, url);
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
    if (groups.every(settled) || groups.some((g) => g.state === "rolledback")) return end(groups, at, true);
    if (at > timeoutS) return end(groups, at, false);
    const next = groups.find((g) => g.state !== "done");
    if (next?.state === "unstarted" && !started.has(next.name)) {
      started.add(next.name);
      const r = await startGroup(w, url, next.name);
      if (r.status < 200 || r.status > 299) timeline.push(`start ${next.name}: ${r.status} ${r.text}`);
      else timeline.push(`start ${next.name} +${at.toFixed(1)}s`);
    }
    await Bun.sleep(pollMs);
  }
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

export async function rolloutA(w: World, url: string, fleet: Fleet): Promise<RolloutCheck> {
  const r = await drive(w, url, rolloutTimeout(w.a, w.a.groups.length));
  let right = r.finished;
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
  url: string,
  lines: string[],
): Promise<{ held: boolean; groups: GroupView[] }> {
  const { a } = w;
  await Bun.sleep(Math.max(1000, ((FIND_PERIOD_S + a.updateSeconds[1]) * 1000) / a.compress));
  const groups = await rolloutView(w, url);
  const next = a.groups[a.haltGroup + 1];
  if (!next) return { held: true, groups };
  const res = await startGroup(w, url, next);
  const held = res.status === 409;
  lines.push(
    `start ${next} (after ${a.groups[a.haltGroup]} rolled back): ${res.status}${held ? " (refused, right)" : " WRONG"}`,
  );
  return { held, groups: await rolloutView(w, url) };
}

export async function rolloutB(w: World, url: string, fleet: Fleet): Promise<RolloutCheck> {
  const HALT = w.a.haltGroup;
  await w.apiJson(url, "POST", "/v1/apply", { resources: [versionDoc(TARGET_A, TARGET_B)] });
  const halt = w.a.groups[HALT];
  const r = await drive(w, url, rolloutTimeout(w.a, HALT < 0 ? w.a.groups.length : HALT + 1));
  let right = r.finished;
  let groups = r.groups;
  if (HALT >= 0 && r.finished) {
    const h = await haltHolds(w, url, r.lines);
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
      want = "rolledback by a canary";
      ok = g.state === "rolledback" && /canary/.test(g.reason) && (fleet.canaryFailuresB[i] as number) > 0;
    } else {
      want = "unstarted, halted";
      ok = g.state === "unstarted" && /halted/.test(g.reason);
    }
    if (!ok) right = false;
    r.lines.push(groupLine(g, ok, want));
  });
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
