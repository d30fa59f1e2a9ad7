/**
 * The kill -9 phase of the fleet simulator with replicas (`--store pg --replicas N`, scripts/bench/fleet.ts):
 * the replica holding the reconciler lease (the one whose `/healthz` says `reconciler: true`) is killed with
 * SIGKILL in the middle of rollout A. As a load balancer would, its agents are sent to the next replica while
 * it is down. Checked: another replica takes the lease (the target: within 10 s), no report any
 * replica answered 2xx is missing from the agent list read right after the kill (from a survivor, while the
 * fleet goes on: the agents quiet during the listing are checked), and the rollout goes on to the right end
 * (fleet_rollouts.ts checks that, and that no transition is written twice). Then the killed replica is
 * started again on its port and data dir and gets its agents back.
 */
import type { Cluster } from "./fleet_cluster.ts";
import { type LossCheck, lossCheck } from "./fleet_list.ts";
import type { Fleet } from "./fleet_sim.ts";
import type { World } from "./fleet_world.ts";

/** The bound: another replica runs the reconciler within this long after the holder dies. */
export const TAKEOVER_TARGET_S = 10;

export interface Failover {
  /** The replica killed (it held the lease). */
  killed: string;
  /** The replica that took the lease, and how long after the kill it said so; undefined: none within 60 s. */
  newLeader: string | undefined;
  takeoverS: number | undefined;
  /** The killed replica started again: ready after this long. */
  restartS: number;
  loss: LossCheck;
}

const names = (c: Cluster, ks: number[]) => (ks.length ? ks.map((k) => c.name(k)).join(", ") : "none");

/**
 * Kills the reconciling replica, checks the handover and the agent list, restarts it. Answers the lines for
 * the rollout's check and whether it went right (one leader before, another one after, within 60 s); the
 * loss check goes to `losses` (a lost report fails the run there) and the figures to `done`.
 */
export async function killLeader(
  w: World,
  c: Cluster,
  fleet: Fleet,
  losses: LossCheck[],
  done: (f: Failover) => void,
): Promise<{ right: boolean; lines: string[] }> {
  const before = await c.oneLeader(10_000);
  if (before.k === undefined)
    return {
      right: false,
      lines: [`WRONG kill -9: not one replica holds the reconciler lease (${names(c, before.seen)})`],
    };
  const k = before.k;
  const killed = c.replicas[k];
  if (!killed) throw new Error(`no replica ${k}`);
  const to = c.replicas[(k + 1) % c.replicas.length];
  if (!to) throw new Error("no replica to send the agents to");
  await c.kill(k);
  w.live.delete(killed);
  fleet.reroute(k, to.url);
  const after = await c.oneLeader(60_000);
  const loss = await lossCheck(
    `after kill -9 of ${c.name(k)} (the reconciler), read from ${c.name((k + 1) % c.replicas.length)}`,
    (path) => w.apiJson(to.url, "GET", path),
    fleet,
    w.a.pageSize,
    true,
  );
  losses.push(loss);
  const t = performance.now();
  const again = await c.restart(k);
  w.live.add(again);
  fleet.reroute(k, again.url);
  const f: Failover = {
    killed: c.name(k),
    newLeader: after.k === undefined ? undefined : c.name(after.k),
    takeoverS: after.k === undefined ? undefined : after.ms / 1000,
    restartS: (performance.now() - t) / 1000,
    loss,
  };
  done(f);
  return { right: after.k !== undefined, lines: [failoverLine(f, c.name((k + 1) % c.replicas.length))] };
}

function failoverLine(f: Failover, agentsTo: string): string {
  const took =
    f.takeoverS === undefined
      ? `WRONG no replica took the reconciler lease within 60 s (${f.newLeader ?? "none"})`
      : `${f.newLeader} took the reconciler lease after ${f.takeoverS.toFixed(1)} s (target ${TAKEOVER_TARGET_S} s: ${f.takeoverS <= TAKEOVER_TARGET_S ? "met" : "NOT met"})`;
  return `kill -9 of ${f.killed}, the reconciling replica: ${took}; its agents sent to ${agentsTo} meanwhile; ${f.killed} restarted, ready in ${f.restartS.toFixed(1)} s; reports lost: ${f.loss.lost} of ${f.loss.checked} checked`;
}
