/**
 * The agent's two calls to the version server: `GET /v1/webapi/find` and `POST /v1/agents/report`.
 * A report that fails never fails an update (it is logged and the pass goes on).
 */
import { hostname } from "node:os";
import { type FindAnswer, parseFindAnswer } from "../../agent/mod.ts";
import type { AgentSpec } from "../../agent/types.ts";
import { UpkeepError } from "../../errors.ts";
import { checkUrl } from "../install/mod.ts";
import { networkWhy } from "../net_error.ts";

export const FIND_TIMEOUT_MS = 10_000;
export const REPORT_TIMEOUT_MS = 5_000;

function base(url: string): string {
  return url.replace(/\/+$/, "");
}

function networkError(url: string, e: unknown): UpkeepError {
  return new UpkeepError("E_NETWORK", `cannot reach ${url}: ${networkWhy(e)}`, {
    cause: e,
    hint: "the daemon keeps running on its version; the agent tries again at the next pass",
  });
}

export async function find(spec: AgentSpec, signal?: AbortSignal): Promise<FindAnswer> {
  const url = `${base(spec.server)}/v1/webapi/find?group=${encodeURIComponent(spec.group)}&updater_id=${encodeURIComponent(spec.updaterId)}`;
  checkUrl(spec.server, spec.insecure);
  let res: Response;
  try {
    const timeout = AbortSignal.timeout(FIND_TIMEOUT_MS);
    res = await fetch(url, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: "error",
    });
  } catch (e) {
    throw networkError(spec.server, e);
  }
  if (!res.ok) {
    throw new UpkeepError("E_SERVER", `${url}: the server answered ${res.status}`, {
      hint: "the daemon keeps running on its version; the agent tries again at the next pass",
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(await res.text());
  } catch (e) {
    throw new UpkeepError("E_SERVER", `${url}: the answer is not JSON`, { cause: e });
  }
  const answer = parseFindAnswer(doc);
  if (typeof answer === "string") throw new UpkeepError("E_SERVER", `${url}: ${answer}`);
  return answer;
}

export type ReportState = "ok" | "updating" | "failed" | "rolledback";

export interface ReportBody {
  state: ReportState;
  version: string;
  error?: string;
  failedVersion?: string;
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
    const body = {
      updater_id: spec.updaterId,
      hostname: hostname().slice(0, 255) || "unknown",
      ...(spec.group ? { group: spec.group } : {}),
      version: r.version,
      state: r.state,
      ...(r.error ? { error: r.error.slice(0, 2000) } : {}),
      ...(r.failedVersion ? { failed_version: r.failedVersion } : {}),
    };
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${spec.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
      redirect: "error",
    });
    if (!res.ok) return `report to ${url} refused: ${res.status} ${(await res.text()).slice(0, 200)}`;
    return undefined;
  } catch (e) {
    return networkError(spec.server, e).message;
  }
}
