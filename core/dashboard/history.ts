/**
 * Each host's recent reports, as the dashboard shows them ("per host its recent reports") and draws the
 * progress chart from. Consecutive reports that say the same thing (group, version, state, error, failed
 * version) are one entry with a count and the time of the first and the last: a host reporting every 5
 * minutes for a week is one entry, not 2,000. At most `perHost` entries per host (the oldest go).
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
  error?: string;
  failed_version?: string;
}

export const DEFAULT_REPORTS_PER_HOST = 10;

const same = (e: HostReport, r: ReportFields) =>
  e.group === r.group &&
  e.version === r.version &&
  e.state === r.state &&
  e.error === r.error &&
  e.failed_version === r.failed_version;

export class ReportHistory {
  readonly #hosts = new Map<string, HostReport[]>();
  readonly #perHost: number;
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
    list.push({
      from: at,
      to: at,
      count: 1,
      group: r.group,
      version: r.version,
      state: r.state,
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(r.failed_version !== undefined ? { failed_version: r.failed_version } : {}),
    });
    if (list.length > this.#perHost) list.shift();
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
