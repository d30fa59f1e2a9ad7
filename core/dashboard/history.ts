/**
 * Each host's recent reports, as the dashboard shows them ("per host its recent reports") and draws the
 * progress chart from. Consecutive reports that say the same thing (group, version, state, error, failed
 * version) are one entry with a count and the time of the first and the last: a host reporting every 5
 * minutes for a week is one entry, not 2,000. At most `perHost` entries per host (the oldest go); errors
 * are kept on the newest two, cut to ERROR_CHARS (the whole last error stays in the store); the few
 * distinct groups and versions are shared. 100,000 hosts with five different failures each (the worst
 * case) take about 92 MiB; three entries per host, as a rollout makes, about 33 MiB.
 *
 * The store keeps only each agent's last report; this history lives in the server's memory. It starts from
 * the stored last reports (`seed`) and grows with every report the server accepts. Pure: times come in.
 */
import type { ReportState } from "../wire/report.ts";

/** What an agent reports about itself (core/wire's ReceivedReport, or an AgentView). */
export interface ReportFields {
  updater_id: string;
  group: string;
  version: string;
  state: ReportState;
  error?: string;
  failed_version?: string;
}

/** One run of identical reports. */
export interface HostReport {
  /** Epoch ms of the first and the last report of the run. */
  from: number;
  to: number;
  count: number;
  group: string;
  version: string;
  state: ReportState;
  /** Kept on the host's newest ERRORS_KEPT entries only. */
  error?: string | undefined;
  failed_version?: string;
}

export const DEFAULT_REPORTS_PER_HOST = 5;
/** The newest entries of a host that keep their error. */
const ERRORS_KEPT = 2;
/** Longest error kept per entry. */
export const ERROR_CHARS = 120;
/** Most distinct strings shared (groups, versions); past that, strings are kept as they come. */
const SHARED_MAX = 1000;

/**
 * The error cut to ERROR_CHARS, as a string of its own: a plain slice would keep the whole 2,000-character
 * report alive behind it (the engine's substrings share their parent), 1.2 GB for 600,000 entries.
 */
const cut = (e: string | undefined) =>
  e === undefined || e.length <= ERROR_CHARS
    ? e
    : `${Array.from(e.slice(0, ERROR_CHARS - 1)).join("")}\u2026`;

const same = (e: HostReport, r: ReportFields) =>
  e.group === r.group &&
  e.version === r.version &&
  e.state === r.state &&
  e.error === cut(r.error) &&
  e.failed_version === r.failed_version;

export class ReportHistory {
  readonly #hosts = new Map<string, HostReport[]>();
  readonly #perHost: number;
  readonly #shared = new Map<string, string>();
  #changes = 0;

  constructor(perHost = DEFAULT_REPORTS_PER_HOST) {
    this.#perHost = Math.max(1, perHost);
  }

  /** A report accepted at `at` (epoch ms). Reports older than the host's last are ignored. */
  record(r: ReportFields, at: number): void {
    let list = this.#hosts.get(r.updater_id);
    if (!list) {
      list = [];
      this.#hosts.set(r.updater_id, list);
    }
    const last = list[list.length - 1];
    if (last && at < last.to) return;
    this.#changes++;
    if (last && same(last, r)) {
      last.to = at;
      last.count++;
      return;
    }
    const error = cut(r.error);
    list.push({
      from: at,
      to: at,
      count: 1,
      group: this.#share(r.group),
      version: this.#share(r.version),
      state: r.state,
      ...(error !== undefined ? { error } : {}),
      ...(r.failed_version !== undefined ? { failed_version: this.#share(r.failed_version) } : {}),
    });
    if (list.length > this.#perHost) list.shift();
    // Older entries keep what they said but not their error (memory: see above).
    const older = list[list.length - 1 - ERRORS_KEPT];
    if (older?.error !== undefined) older.error = undefined;
  }

  /** One copy of each group and version string (a parsed report brings its own copies). */
  #share(s: string): string {
    const known = this.#shared.get(s);
    if (known !== undefined) return known;
    if (this.#shared.size < SHARED_MAX) this.#shared.set(s, s);
    return s;
  }

  /** A host's reports, newest first. */
  recent(updaterId: string): HostReport[] {
    return [...(this.#hosts.get(updaterId) ?? [])].reverse();
  }

  /** Every host's reports, oldest first. */
  hosts(): Iterable<readonly HostReport[]> {
    return this.#hosts.values();
  }

  get size(): number {
    return this.#hosts.size;
  }

  /** Grows with every recorded report: a cheap "did anything change" for caches. */
  get changes(): number {
    return this.#changes;
  }
}
