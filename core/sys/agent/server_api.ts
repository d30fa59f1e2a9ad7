/**
 * The agent's two calls to the version server: `GET /v1/webapi/find` and `POST /v1/agents/report`.
 * A report that fails never fails an update (it is logged and the pass goes on).
 */
import { hostname } from "node:os";
import type { AgentSpec } from "../../agent/types.ts";
import { UpkeepError } from "../../errors.ts";
import { readErrorBody } from "../../wire/error_body.ts";
import { type FindAnswer, parseFind } from "../../wire/parse_find.ts";
import { type ReportState, reportBody } from "../../wire/report.ts";
import { MAX_FIND_ANSWER_BYTES, readCapped, readPrefix, Watchdog } from "../bounded_http.ts";
import { checkUrl } from "../install/mod.ts";

/** The find answer, body included, within 10 s (and at most 1 MiB: MAX_FIND_ANSWER_BYTES). */
export const FIND_TIMEOUT_MS = 10_000;
export const REPORT_TIMEOUT_MS = 5_000;

const HINT = "the daemon keeps running on its version; the agent tries again at the next pass";

function base(url: string): string {
  return url.replace(/\/+$/, "");
}

function cancelled(): UpkeepError {
  return new UpkeepError("E_CANCELLED", "the pass was stopped before the server answered");
}

/** The find answer with `upkeep.updater_version`: the updater version the server wants ("" none). */
export type AgentFindAnswer = FindAnswer & { updaterVersion?: string };

export async function find(spec: AgentSpec, signal?: AbortSignal): Promise<AgentFindAnswer> {
  // The updater id under upkeep's name and under Teleport's (`update_id`, AgentUpdateIDParameter in
  // api/client/webclient): a Teleport proxy then knows this host as a canary too.
  const id = encodeURIComponent(spec.updaterId);
  const url = `${base(spec.server)}/v1/webapi/find?group=${encodeURIComponent(spec.group)}&updater_id=${id}&update_id=${id}`;
  checkUrl(spec.server, spec.insecure);
  const watchdog = new Watchdog({
    idleMs: FIND_TIMEOUT_MS,
    totalMs: FIND_TIMEOUT_MS,
    ...(signal ? { signal } : {}),
    onCancel: cancelled,
  });
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: watchdog.signal, redirect: "error" });
    } catch (e) {
      if (watchdog.cancelled) throw cancelled();
      throw new UpkeepError("E_NETWORK", `cannot reach ${spec.server}: ${watchdog.why(e)}`, {
        cause: e,
        hint: HINT,
      });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new UpkeepError("E_SERVER", `${url}: the server answered ${res.status}`, { hint: HINT });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(res, {
        url,
        max: MAX_FIND_ANSWER_BYTES,
        watchdog,
        tooLarge: (max) => new UpkeepError("E_SERVER", `${url}: answer larger than ${max}`, { hint: HINT }),
      });
    } catch (e) {
      if (e instanceof UpkeepError && e.code === "E_NETWORK") {
        throw new UpkeepError("E_NETWORK", e.message, { cause: e, hint: HINT });
      }
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new UpkeepError("E_SERVER", `${url}: the answer is not JSON`, { cause: e, hint: HINT });
    }
    const parsed = parseFind(doc);
    const answer = parsed.agent;
    if (typeof answer === "string") throw new UpkeepError("E_SERVER", `${url}: ${answer}`);
    return { ...answer, updaterVersion: parsed.updaterVersion ?? "" };
  } finally {
    watchdog.dispose();
  }
}

export type { ReportState };

export interface ReportBody {
  state: ReportState;
  version: string;
  error?: string;
  failedVersion?: string;
  /** The upkeep version this updater runs, and one whose self-update failed here (issue 16). */
  updaterVersion?: string;
  updaterFailedVersion?: string;
}

/**
 * Sends a report; returns an error text instead of throwing (reports never fail an update). Without an
 * agent token nothing is sent.
 */
export async function sendReport(spec: AgentSpec, r: ReportBody): Promise<string | undefined> {
  if (!spec.token || !r.version) return undefined;
  const url = `${base(spec.server)}/v1/agents/report`;
  try {
    checkUrl(spec.server, spec.insecure);
    const body = reportBody({ updaterId: spec.updaterId, hostname: hostname(), group: spec.group, ...r });
    const watchdog = new Watchdog({ idleMs: REPORT_TIMEOUT_MS, totalMs: REPORT_TIMEOUT_MS });
    try {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${spec.token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: watchdog.signal,
          redirect: "error",
        });
      } catch (e) {
        return `cannot reach ${spec.server}: ${watchdog.why(e)}`;
      }
      // The answer is not needed; an error page's first 200 characters are (never more is read).
      if (!res.ok)
        return `report to ${url} refused: ${res.status} ${refusal(await readPrefix(res, 200, watchdog))}`;
      await res.body?.cancel().catch(() => {});
      return undefined;
    } finally {
      watchdog.dispose();
    }
  } catch (e) {
    return `cannot reach ${spec.server}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** What a refusal says: its message (either shape: core/wire readErrorBody), else the text as it came. */
function refusal(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  return readErrorBody(doc).message ?? text;
}
