/** What the fleet simulator's unit tests share: a small simulated fleet. */
import { Fleet, type FleetOptions } from "./fleet_sim.ts";

/** `n` agents (grown) in groups g1 and g2, compress 1, run id `r`; `o` overrides (the server's URL, ...). */
export function smallFleet(n: number, o: Partial<FleetOptions> = {}): Fleet {
  const f = new Fleet({
    urls: ["http://127.0.0.1:9"],
    agentToken: "t",
    capacity: n,
    groups: ["g1", "g2"],
    compress: 1,
    runId: "r",
    failRatio: 0.1,
    haltGroup: -1,
    updateSeconds: [1, 2],
    ...o,
  });
  f.grow(n);
  return f;
}
