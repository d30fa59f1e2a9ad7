/** Asks the cluster which client-tools version to run (`/v1/webapi/find`) and caches the answer. */
import { UpkeepError } from "../../errors.ts";
import { checkUrl } from "../../install/url.ts";
import type { ToolsState } from "../../tools/types.ts";
import { formatVersion } from "../../version/format_version.ts";
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { networkWhy } from "../net_error.ts";
import { updateToolsState } from "./state_store.ts";

export interface ToolsAnswer {
  toolsVersion: string;
  toolsAutoUpdate: boolean;
}

export async function askServer(server: string, timeoutMs = 3000): Promise<ToolsAnswer> {
  const url = `${server.replace(/\/+$/, "")}/v1/webapi/find`;
  let r: Response;
  try {
    r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  } catch (e) {
    throw new UpkeepError("E_NETWORK", `cannot reach ${url}: ${networkWhy(e)}`, {
      cause: e,
      hint: "check that the server runs and its URL (upkeep tools login --server URL); installed tools still run",
    });
  }
  if (!r.ok) throw new UpkeepError("E_SERVER", `${url} answered ${r.status}`);
  let body: {
    auto_update?: { tools_version?: unknown; tools_auto_update?: unknown };
    upkeep?: { reason?: unknown; tools_reason?: unknown };
  };
  try {
    body = (await r.json()) as typeof body;
  } catch (e) {
    throw new UpkeepError("E_SERVER", `${url} did not answer JSON`, { cause: e });
  }
  if (body.auto_update?.tools_version === "" && body.auto_update?.tools_auto_update !== true) {
    // An upkeep server with no tools version yet (no tools target, no server version) names none and says
    // why: not an error of the server, nothing to run from it yet.
    const why =
      typeof body.upkeep?.tools_reason === "string"
        ? `: ${body.upkeep.tools_reason}`
        : typeof body.upkeep?.reason === "string"
          ? `: ${body.upkeep.reason}`
          : "";
    throw new UpkeepError("E_NOT_READY", `${server} names no client tools version yet${why}`, {
      hint: "its operator sets one (upkeep admin apply of kind: autoupdate_version with spec.tools.target_version)",
    });
  }
  const v =
    typeof body.auto_update?.tools_version === "string"
      ? tryParseVersion(body.auto_update.tools_version)
      : undefined;
  if (!v) throw new UpkeepError("E_SERVER", `${url}: auto_update.tools_version is missing or not a version`);
  return { toolsVersion: formatVersion(v), toolsAutoUpdate: body.auto_update?.tools_auto_update === true };
}

/**
 * Refreshes the cached answer. A server that cannot be reached is not an error for the tool: the failure is
 * remembered (so the next runs don't wait on it) and the caller goes on with what it has. The write changes
 * only the cache fields, on the file as it is now (a pin or a login meanwhile is kept), and keeps an answer
 * on disk that is newer than this one; it is best effort (a read-only tools dir must not stop the tool).
 */
export async function refreshCache(
  dir: string,
  state: ToolsState,
  server: string | undefined,
  insecure: boolean,
  now: Date,
  onWarning: (msg: string) => void,
): Promise<ToolsState> {
  if (!server) return state;
  let answer: ToolsAnswer;
  try {
    checkUrl(server, insecure);
    answer = await askServer(server);
  } catch (e) {
    onWarning(`upkeep: ${(e as Error).message}; using the installed client tools`);
    const failed = (s: ToolsState): ToolsState => ({ ...s, lastCheckFailedAt: now.getTime() });
    return await updateToolsState(dir, failed).catch(() => failed(state));
  }
  // Labelled with the server asked: with UPKEEP_SERVER set it is not the saved server's answer.
  const cache = { ...answer, fetchedAt: now.getTime(), server };
  const read = state.cache;
  const withAnswer = (s: ToolsState): ToolsState => {
    const c = s.cache;
    // Another run saved an answer since this one read the file, as new as this one: it stays.
    if (c && (c.fetchedAt !== read?.fetchedAt || c.server !== read?.server) && c.fetchedAt >= cache.fetchedAt)
      return s;
    const { lastCheckFailedAt: _dropped, ...rest } = s;
    return { ...rest, cache };
  };
  try {
    const { lastCheckFailedAt: _dropped, ...saved } = await updateToolsState(dir, withAnswer);
    return { ...saved, cache }; // this run goes on with the answer it just got
  } catch {
    // A read-only (or busy) tools dir must not stop the tool.
    const { lastCheckFailedAt: _dropped, ...rest } = state;
    return { ...rest, cache };
  }
}
