/**
 * The schedules of the simulated fleet (scripts/bench/fleet_sim.ts): the periodic open-loop load of finds and
 * reports, and a storm of reports.
 */
import type { Fleet } from "./fleet_sim.ts";

export interface Rates {
  find: number;
  report: number;
}

/**
 * Runs the periodic load until `stop()`: finds at `findRate`/s and reports at `reportRate`/s over the
 * agents in a fixed order (so each agent asks every n/findRate s and reports every n/reportRate s: the
 * rates of n real agents with 60 s and 300 s periods at compress 1). Rates are read at every tick, so
 * the caller may change them. The lag of each send behind its schedule goes to `stats.lag`.
 */
export function startLoad(fleet: Fleet, rates: Rates): { stop: () => void; rates: Rates } {
  const ctl = { rates, stopped: false };
  const t0 = performance.now();
  let lastT = t0;
  let findsDue = 0;
  let reportsDue = 0;
  let kf = 0;
  let kr = Math.floor(fleet.n / 2); // reports start half a fleet away from the finds
  const tick = () => {
    if (ctl.stopped) return;
    const now = performance.now();
    const dt = now - lastT;
    lastT = now;
    findsDue += (dt * ctl.rates.find) / 1000;
    reportsDue += (dt * ctl.rates.report) / 1000;
    const n = fleet.n;
    const lagF = findsDue >= 1 ? ((findsDue - 1) * 1000) / ctl.rates.find : 0;
    const lagR = reportsDue >= 1 ? ((reportsDue - 1) * 1000) / ctl.rates.report : 0;
    if (findsDue >= 1) fleet.stats.lag.add(lagF);
    if (reportsDue >= 1) fleet.stats.lag.add(lagR);
    while (findsDue >= 1) {
      fleet.find(kf % n);
      kf++;
      findsDue--;
    }
    while (reportsDue >= 1) {
      fleet.requestReport(kr % n, true);
      kr++;
      reportsDue--;
    }
    setTimeout(tick, 2);
  };
  setTimeout(tick, 2);
  return {
    rates,
    stop: () => {
      ctl.stopped = true;
    },
  };
}

/** A storm: every agent reports once, spread evenly over `seconds` of wall time. */
export async function storm(fleet: Fleet, seconds: number): Promise<void> {
  const n = fleet.n;
  const t0 = performance.now();
  let k = 0;
  await new Promise<void>((res) => {
    const tick = () => {
      const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000 / seconds) * n));
      for (; k < due; k++) fleet.requestReport(k);
      if (k >= n) res();
      else setTimeout(tick, 2);
    };
    tick();
  });
}
