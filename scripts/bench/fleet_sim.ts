/**
 * The simulated fleet of scripts/bench/fleet.ts: N agents with distinct updater ids, spread over groups and
 * versions, that ask `GET /v1/webapi/find` and send `POST /v1/agents/report` on a schedule, and react to the
 * answers as `upkeep agent` does: told to update (agent_auto_update and another version), an agent reports
 * `updating`, "installs" for a few (simulated) seconds, then reports `ok` on the new version, or, when it is
 * one the run makes fail, `rolledback` with `failed_version` and skips that version from then on.
 *
 * Load is open-loop: requests leave at their scheduled times whatever the server's latency (a slow server
 * does not slow the generator down, so its latency is not hidden), over keep-alive connections. An agent
 * sends its reports one at a time (a report waits for the agent's previous one, as a real agent's do), so the
 * last report the server answered 2xx is the one it must keep: `compare` checks that for every agent.
 * At most 1,024 finds and 1,024 reports are in flight (more wait: a find is not sent, a report queues).
 * State is kept in typed arrays (a 100,000-agent fleet is a few MiB).
 */
import { PhaseStats } from "./fleet_stats.ts";

/** Versions of the run: agents start on the first three; rollout A goes 1.1.0 -> 1.2.0, B 1.2.0 -> 1.3.0. */
export const VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0"] as const;
export const START_A = 2;
export const TARGET_A = 3;
export const TARGET_B = 4;
const VERSION_INDEX = new Map<string, number>(VERSIONS.map((v, i) => [v, i]));
const NONE = 255;

const STATES = ["", "ok", "updating", "failed", "rolledback"] as const;
type ReportState = (typeof STATES)[number];
const S_OK = 1;
const S_UPDATING = 2;
const S_ROLLEDBACK = 4;

export interface FleetOptions {
  url: string;
  agentToken: string;
  /** Largest fleet (arrays are sized for it); `grow` adds agents up to it. */
  capacity: number;
  groups: string[];
  /** Simulated seconds per wall second: periods, update times and jitter are divided by it. */
  compress: number;
  /** Unique per run: updater ids are `sim-<runId>-<i>`. */
  runId: string;
  /** Share of each group's agents (never a canary) whose update to 1.2.0 fails (rollout A). */
  failRatio: number;
  /** Index of the group whose canaries fail on 1.3.0 (rollout B); -1: none. */
  haltGroup: number;
  /** An update takes this many simulated seconds (uniform in [min, max]). */
  updateSeconds: [number, number];
  /**
   * Requests in flight at most, per kind (default 1,024 each: real agents are as many clients as there are
   * hosts; Bun's fetch runs BUN_CONFIG_MAX_HTTP_REQUESTS at once, 256 unless set before Bun starts).
   */
  maxFinds?: number;
  maxReports?: number;
}

/** What a server record of an agent must match (the last report answered 2xx). */
export interface AgentRecordView {
  updater_id: string;
  hostname?: string;
  group?: string;
  version: string;
  state: string;
  failed_version?: string;
  last_seen: string;
}

export class Fleet {
  readonly o: FleetOptions;
  /** Agents in the fleet now (0..capacity). */
  n = 0;
  readonly group: Uint8Array;
  readonly ver: Uint8Array;
  /** Bit v set: version v is skipped (its update failed). */
  readonly skip: Uint8Array;
  /** The version the agent's last find answer named (NONE before any). */
  readonly told: Uint8Array;
  readonly updating: Uint8Array;
  /** 1: this agent's update to 1.2.0 fails unless it is a canary (rollout A). */
  readonly failA: Uint8Array;
  readonly #findBusy: Uint8Array;
  readonly #reportBusy: Uint8Array;
  readonly #reportQueued: Uint8Array;
  readonly #reportAgain: Uint8Array;
  /** The last report answered 2xx: when it was sent (Date.now()), its state, version, failed version. */
  readonly ackAt: Float64Array;
  readonly ackState: Uint8Array;
  readonly ackVer: Uint8Array;
  readonly ackFailed: Uint8Array;
  /** A report after it that got no 2xx (the server may or may not have kept it). */
  readonly tryState: Uint8Array;
  readonly tryVer: Uint8Array;
  readonly tryFailed: Uint8Array;
  readonly #queue: Int32Array;
  #qHead = 0;
  #qLen = 0;
  #findsInFlight = 0;
  #reportsInFlight = 0;
  #drainWaiters: (() => void)[] = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();

  stats = new PhaseStats();
  /** Reports answered 2xx, finds answered, since the start. */
  acked = 0;
  findsAnswered = 0;
  /** Failed updates so far, per group: to 1.2.0 (rollout A), and canaries on 1.3.0 (rollout B). */
  readonly failuresA: Int32Array;
  readonly canaryFailuresB: Int32Array;
  readonly #headers: Record<string, string>;
  readonly #maxFinds: number;
  readonly #maxReports: number;

  constructor(o: FleetOptions) {
    this.o = o;
    const c = o.capacity;
    this.group = new Uint8Array(c);
    this.ver = new Uint8Array(c);
    this.skip = new Uint8Array(c);
    this.told = new Uint8Array(c).fill(NONE);
    this.updating = new Uint8Array(c);
    this.failA = new Uint8Array(c);
    this.#findBusy = new Uint8Array(c);
    this.#reportBusy = new Uint8Array(c);
    this.#reportQueued = new Uint8Array(c);
    this.#reportAgain = new Uint8Array(c);
    this.ackAt = new Float64Array(c);
    this.ackState = new Uint8Array(c);
    this.ackVer = new Uint8Array(c);
    this.ackFailed = new Uint8Array(c).fill(NONE);
    this.tryState = new Uint8Array(c);
    this.tryVer = new Uint8Array(c);
    this.tryFailed = new Uint8Array(c).fill(NONE);
    this.#queue = new Int32Array(c);
    this.failuresA = new Int32Array(o.groups.length);
    this.canaryFailuresB = new Int32Array(o.groups.length);
    this.#headers = { authorization: `Bearer ${o.agentToken}`, "content-type": "application/json" };
    this.#maxFinds = o.maxFinds ?? 1024;
    this.#maxReports = o.maxReports ?? 1024;
  }

  id(i: number): string {
    return `sim-${this.o.runId}-${i}`;
  }

  /**
   * Adds agents up to `n`: agent i is in group i mod G, starts on 1.0.0 (i mod 5 = 0), 1.0.1 (= 1) or
   * 1.1.0; in each group an evenly spread `failRatio` of the agents fail on 1.2.0.
   */
  grow(n: number): void {
    const G = this.o.groups.length;
    for (let i = this.n; i < n; i++) {
      this.group[i] = i % G;
      this.ver[i] = i % 5 === 0 ? 0 : i % 5 === 1 ? 1 : START_A;
      const k = Math.floor(i / G); // index inside its group
      const f = this.o.failRatio;
      this.failA[i] = Math.floor((k + 1) * f) > Math.floor(k * f) ? 1 : 0;
    }
    this.n = n;
  }

  /** Agents per group (of the fleet now). */
  groupSize(g: number): number {
    const G = this.o.groups.length;
    return Math.floor(this.n / G) + (g < this.n % G ? 1 : 0);
  }

  // ---- reports ----

  /** The report agent i sends now, from what it runs and what it was told (as `upkeep agent` reports). */
  #body(i: number): { state: number; ver: number; failed: number } {
    if (this.updating[i]) return { state: S_UPDATING, ver: this.ver[i] as number, failed: NONE };
    const told = this.told[i] as number;
    if (told !== NONE && ((this.skip[i] as number) & (1 << told)) !== 0)
      return { state: S_ROLLEDBACK, ver: this.ver[i] as number, failed: told };
    return { state: S_OK, ver: this.ver[i] as number, failed: NONE };
  }

  /** Agent i has something to report: queued (once), or sent again after the one in flight. */
  requestReport(i: number, periodic = false): void {
    if (this.#reportBusy[i]) {
      if (periodic && this.#reportAgain[i]) this.stats.reportsCoalesced++;
      this.#reportAgain[i] = 1;
      return;
    }
    if (this.#reportQueued[i]) {
      if (periodic) this.stats.reportsCoalesced++;
      return;
    }
    this.#reportQueued[i] = 1;
    this.#queue[(this.#qHead + this.#qLen) % this.#queue.length] = i;
    this.#qLen++;
    this.#pump();
    if (this.#qLen > this.stats.maxBacklog) this.stats.maxBacklog = this.#qLen;
  }

  #pump(): void {
    while (this.#qLen > 0 && this.#reportsInFlight < this.#maxReports) {
      const i = this.#queue[this.#qHead] as number;
      this.#qHead = (this.#qHead + 1) % this.#queue.length;
      this.#qLen--;
      this.#reportQueued[i] = 0;
      this.#send(i);
    }
    if (this.#qLen === 0 && this.#reportsInFlight === 0 && this.#findsInFlight === 0) {
      const w = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const f of w) f();
    }
  }

  #send(i: number): void {
    this.#reportBusy[i] = 1;
    this.#reportsInFlight++;
    this.#inFlightPeak();
    const b = this.#body(i);
    const body: Record<string, string> = {
      updater_id: this.id(i),
      hostname: `host-${i}`,
      group: this.o.groups[this.group[i] as number] as string,
      version: VERSIONS[b.ver] as string,
      state: STATES[b.state] as ReportState,
    };
    if (b.failed !== NONE) {
      body.failed_version = VERSIONS[b.failed] as string;
      body.error = `simulated: ${body.failed_version} failed its health check`;
    }
    const stats = this.stats;
    const sentAt = Date.now();
    const t0 = performance.now();
    fetch(`${this.o.url}/v1/agents/report`, {
      method: "POST",
      headers: this.#headers,
      body: JSON.stringify(body),
    })
      .then(async (r) => {
        const text = await r.text();
        stats.report.add(performance.now() - t0);
        if (r.ok) {
          this.acked++;
          this.ackAt[i] = sentAt;
          this.ackState[i] = b.state;
          this.ackVer[i] = b.ver;
          this.ackFailed[i] = b.failed;
          this.tryState[i] = 0;
        } else {
          this.#refused(i, b, stats, `report ${r.status}: ${text.slice(0, 200)}`);
        }
      })
      .catch((e: unknown) => this.#refused(i, b, stats, `report: ${(e as Error).message}`))
      .finally(() => {
        this.#reportBusy[i] = 0;
        this.#reportsInFlight--;
        if (this.#reportAgain[i]) {
          this.#reportAgain[i] = 0;
          this.requestReport(i);
        }
        this.#pump();
      });
  }

  #inFlightPeak(): void {
    const n = this.#findsInFlight + this.#reportsInFlight;
    if (n > this.stats.maxInFlight) this.stats.maxInFlight = n;
  }

  /** Most requests of each kind in flight at once. */
  get limits(): { finds: number; reports: number } {
    return { finds: this.#maxFinds, reports: this.#maxReports };
  }

  #refused(i: number, b: { state: number; ver: number; failed: number }, s: PhaseStats, why: string): void {
    s.reportErrors++;
    if (!s.errorSample) s.errorSample = why;
    this.tryState[i] = b.state;
    this.tryVer[i] = b.ver;
    this.tryFailed[i] = b.failed;
  }

  // ---- finds ----

  /** One find for agent i; skipped when its previous find is still waiting or too many are in flight. */
  find(i: number): void {
    if (this.#findBusy[i] || this.#findsInFlight >= this.#maxFinds) {
      this.stats.findsSkipped++;
      return;
    }
    this.#findBusy[i] = 1;
    this.#findsInFlight++;
    this.#inFlightPeak();
    const stats = this.stats;
    const g = this.o.groups[this.group[i] as number] as string;
    const t0 = performance.now();
    fetch(`${this.o.url}/v1/webapi/find?group=${g}&updater_id=${this.id(i)}`)
      .then(async (r) => {
        const text = await r.text();
        stats.find.add(performance.now() - t0);
        if (!r.ok) {
          stats.findErrors++;
          if (!stats.errorSample) stats.errorSample = `find ${r.status}: ${text.slice(0, 200)}`;
          return;
        }
        this.findsAnswered++;
        this.#react(i, JSON.parse(text));
      })
      .catch((e: unknown) => {
        stats.findErrors++;
        if (!stats.errorSample) stats.errorSample = `find: ${(e as Error).message}`;
      })
      .finally(() => {
        this.#findBusy[i] = 0;
        this.#findsInFlight--;
        this.#pump();
      });
  }

  /** What `upkeep agent` does with a find answer: update when told to, to a version it does not skip. */
  #react(i: number, answer: unknown): void {
    const a = answer as {
      auto_update?: {
        agent_version?: string;
        agent_auto_update?: boolean;
        agent_update_jitter_seconds?: number;
      };
      upkeep?: { canary?: boolean };
    };
    const v = VERSION_INDEX.get(a.auto_update?.agent_version ?? "");
    if (v === undefined) return;
    this.told[i] = v;
    if (this.updating[i] || a.auto_update?.agent_auto_update !== true || v === this.ver[i]) return;
    if (((this.skip[i] as number) & (1 << v)) !== 0) return;
    const canary = a.upkeep?.canary === true;
    this.updating[i] = 1;
    this.requestReport(i);
    const [lo, hi] = this.o.updateSeconds;
    const jitter = Math.random() * (a.auto_update?.agent_update_jitter_seconds ?? 0);
    const ms = ((lo + Math.random() * (hi - lo) + jitter) * 1000) / this.o.compress;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#finishUpdate(i, v, canary);
    }, ms);
    this.#timers.add(t);
  }

  #finishUpdate(i: number, v: number, canary: boolean): void {
    this.updating[i] = 0;
    const g = this.group[i] as number;
    const fails =
      (v === TARGET_A && this.failA[i] === 1 && !canary) ||
      (v === TARGET_B && canary && g === this.o.haltGroup);
    if (fails) {
      this.skip[i] = (this.skip[i] as number) | (1 << v);
      if (v === TARGET_A) (this.failuresA[g] as number)++;
      else (this.canaryFailuresB[g] as number)++;
    } else {
      this.ver[i] = v;
    }
    this.requestReport(i);
  }

  /** Updates still running (their timers). */
  updatesRunning(): number {
    return this.#timers.size;
  }

  /** Resolves once no request is in flight or queued (updates still running may queue more later). */
  drain(): Promise<void> {
    if (this.#qLen === 0 && this.#reportsInFlight === 0 && this.#findsInFlight === 0)
      return Promise.resolve();
    return new Promise((res) => this.#drainWaiters.push(res));
  }

  /** Reports queued or in flight. */
  reportBacklog(): number {
    return this.#qLen + this.#reportsInFlight;
  }

  // ---- schedules ----

  /**
   * Runs the periodic load until `stop()`: finds at `findRate`/s and reports at `reportRate`/s over the
   * agents in a fixed order (so each agent asks every n/findRate s and reports every n/reportRate s: the
   * rates of n real agents with 60 s and 300 s periods at compress 1). Rates are read at every tick, so
   * the caller may change them. The lag of each send behind its schedule goes to `stats.lag`.
   */
  startLoad(rates: { find: number; report: number }): { stop: () => void; rates: typeof rates } {
    const ctl = { rates, stopped: false };
    const t0 = performance.now();
    let lastT = t0;
    let findsDue = 0;
    let reportsDue = 0;
    let kf = 0;
    let kr = Math.floor(this.n / 2); // reports start half a fleet away from the finds
    const tick = () => {
      if (ctl.stopped) return;
      const now = performance.now();
      const dt = now - lastT;
      lastT = now;
      findsDue += (dt * ctl.rates.find) / 1000;
      reportsDue += (dt * ctl.rates.report) / 1000;
      const n = this.n;
      const lagF = findsDue >= 1 ? ((findsDue - 1) * 1000) / ctl.rates.find : 0;
      const lagR = reportsDue >= 1 ? ((reportsDue - 1) * 1000) / ctl.rates.report : 0;
      if (findsDue >= 1) this.stats.lag.add(lagF);
      if (reportsDue >= 1) this.stats.lag.add(lagR);
      while (findsDue >= 1) {
        this.find(kf % n);
        kf++;
        findsDue--;
      }
      while (reportsDue >= 1) {
        this.requestReport(kr % n, true);
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

  /** Every agent in [from, to) reports once, as fast as the server answers (up to maxReports at once). */
  async seed(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) this.requestReport(i);
    await this.drain();
  }

  /** A storm: every agent reports once, spread evenly over `seconds` of wall time. */
  async storm(seconds: number): Promise<void> {
    const n = this.n;
    const t0 = performance.now();
    let k = 0;
    await new Promise<void>((res) => {
      const tick = () => {
        const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000 / seconds) * n));
        for (; k < due; k++) this.requestReport(k);
        if (k >= n) res();
        else setTimeout(tick, 2);
      };
      tick();
    });
  }

  /**
   * Compares the server's agent list with what it answered 2xx: for every agent, the record must be its
   * last acknowledged report (state, version, failed version, seen no earlier than that report was sent),
   * or a later report the server did not acknowledge (it may have kept it). Returns the agents that differ.
   */
  compare(records: AgentRecordView[]): {
    lost: number;
    missing: number;
    checked: number;
    unknown: number;
    sample: string[];
  } {
    const byId = new Map<string, AgentRecordView>();
    let unknown = 0;
    const prefix = `sim-${this.o.runId}-`;
    for (const r of records) {
      if (!r.updater_id.startsWith(prefix)) unknown++;
      byId.set(r.updater_id, r);
    }
    let lost = 0;
    let missing = 0;
    let checked = 0;
    const sample: string[] = [];
    // last_seen is the server's clock when it took the report: never before the simulator sent it. A
    // second of slack, in case a server keeps last_seen to the second.
    const SLACK_MS = 1000;
    for (let i = 0; i < this.n; i++) {
      if (this.ackState[i] === 0) continue;
      checked++;
      const r = byId.get(this.id(i));
      const is = (state: number, ver: number, failed: number) =>
        r !== undefined &&
        r.state === STATES[state] &&
        r.version === VERSIONS[ver] &&
        (r.failed_version ?? "") === (failed === NONE ? "" : VERSIONS[failed]);
      const acked =
        is(this.ackState[i] as number, this.ackVer[i] as number, this.ackFailed[i] as number) &&
        Date.parse(r?.last_seen ?? "") >= (this.ackAt[i] as number) - SLACK_MS;
      const tried =
        this.tryState[i] !== 0 &&
        is(this.tryState[i] as number, this.tryVer[i] as number, this.tryFailed[i] as number);
      if (acked || tried) continue;
      if (r === undefined) missing++;
      lost++;
      if (sample.length < 3) {
        const want = `${STATES[this.ackState[i] as number]} ${VERSIONS[this.ackVer[i] as number]} sent ${new Date(this.ackAt[i] as number).toISOString()}`;
        sample.push(
          `${this.id(i)}: acknowledged ${want}; server has ${r ? `${r.state} ${r.version} seen ${r.last_seen}` : "nothing"}`,
        );
      }
    }
    return { lost, missing, checked, unknown, sample };
  }

  /** Stops pending update timers (the end of a run). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
