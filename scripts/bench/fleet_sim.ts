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
 * last report the server answered 2xx is the one it must keep: `compareRecords` (fleet_compare.ts) checks that for
 * every agent. The schedules that drive the finds and reports are in fleet_load.ts.
 * At most 1,024 finds and 1,024 reports are in flight (more wait: a find is not sent, a report queues).
 * State is kept in typed arrays (a 100,000-agent fleet is a few MiB).
 */
import {
  NONE,
  type ReportState,
  S_OK,
  S_ROLLEDBACK,
  S_UPDATING,
  START_A,
  STATES,
  TARGET_A,
  TARGET_B,
  VERSION_INDEX,
  VERSIONS,
} from "./fleet_model.ts";
import { PhaseStats } from "./fleet_stats.ts";

export interface FleetOptions {
  /** The replicas' base URLs: agent i talks to `urls[i mod urls.length]` (`reroute` changes one). */
  urls: string[];
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
  /** `seq` when agent i's last report was sent or answered: agents quiet since a mark (`quietSince`). */
  readonly touched: Float64Array;
  /** Moves at every report sent and every report answered (or failed). */
  seq = 0;
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
  /** Per group g and version v (at g * VERSIONS.length + v): when an agent was first told to update to it
   * (Date.now(), 0: never), how many were, and the replica that told the first (its index). */
  readonly firstToldAt: Float64Array;
  readonly toldCount: Int32Array;
  readonly firstToldBy: Int8Array;
  readonly #headers: Record<string, string>;
  readonly #maxFinds: number;
  readonly #maxReports: number;

  constructor(o: FleetOptions) {
    this.o = o;
    const c = o.capacity;
    const b = () => new Uint8Array(c);
    const none = () => new Uint8Array(c).fill(NONE);
    [this.group, this.ver, this.skip, this.told, this.updating] = [b(), b(), b(), none(), b()];
    [this.failA, this.ackState, this.ackVer, this.ackFailed] = [b(), b(), b(), none()];
    [this.tryState, this.tryVer, this.tryFailed, this.ackAt] = [b(), b(), none(), new Float64Array(c)];
    this.touched = new Float64Array(c);
    [this.#findBusy, this.#reportBusy, this.#reportQueued, this.#reportAgain] = [b(), b(), b(), b()];
    this.#queue = new Int32Array(c);
    this.failuresA = new Int32Array(o.groups.length);
    this.canaryFailuresB = new Int32Array(o.groups.length);
    const gv = o.groups.length * VERSIONS.length;
    this.firstToldAt = new Float64Array(gv);
    [this.toldCount, this.firstToldBy] = [new Int32Array(gv), new Int8Array(gv)];
    this.#headers = { authorization: `Bearer ${o.agentToken}`, "content-type": "application/json" };
    this.#maxFinds = o.maxFinds ?? 1024;
    this.#maxReports = o.maxReports ?? 1024;
  }

  id(i: number): string {
    return `sim-${this.o.runId}-${i}`;
  }

  /** The base URL agent i talks to now. */
  url(i: number): string {
    return this.o.urls[i % this.o.urls.length] as string;
  }

  /** The agents of replica `k` talk to `url` from now on (a load balancer's failover, and back). */
  reroute(k: number, url: string): void {
    this.o.urls[k] = url;
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
    this.touched[i] = ++this.seq;
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
    fetch(`${this.url(i)}/v1/agents/report`, {
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
        this.touched[i] = ++this.seq;
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
    fetch(`${this.url(i)}/v1/webapi/find?group=${g}&updater_id=${this.id(i)}`)
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
    this.#told(i, v);
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

  /** Agent i was told to update to version v (and does). */
  #told(i: number, v: number): void {
    const k = (this.group[i] as number) * VERSIONS.length + v;
    if (this.firstToldAt[k] === 0)
      [this.firstToldAt[k], this.firstToldBy[k]] = [Date.now(), i % this.o.urls.length];
    (this.toldCount[k] as number)++;
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

  /** Every agent in [from, to) reports once, as fast as the server answers (up to maxReports at once). */
  async seed(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) this.requestReport(i);
    await this.drain();
  }

  /** Stops pending update timers (the end of a run). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
