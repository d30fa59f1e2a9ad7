/** Asks the cluster which client-tools version to run (`/v1/webapi/find`) and caches the answer. */
import { UpkeepError } from "../../errors.ts";
import { checkUrl } from "../../install/url.ts";
import type { ToolsState } from "../../tools/types.ts";
import { formatVersion } from "../../version/format_version.ts";
import { tryParseVersion } from "../../version/try_parse_version.ts";
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
    throw new UpkeepError("E_NETWORK", `cannot reach ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!r.ok) throw new UpkeepError("E_SERVER", `${url} answered ${r.status}`);
  let body: { auto_update?: { tools_version?: unknown; tools_auto_update?: unknown } };
  try {
    body = (await r.json()) as typeof body;
  } catch (e) {
    throw new UpkeepError("E_SERVER", `${url} did not answer JSON`, { cause: e });
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
  let mutate: (s: ToolsState) => ToolsState;
  try {
    checkUrl(server, insecure);
    const a = await askServer(server);
    const cache = { ...a, fetchedAt: now.getTime() };
    mutate = (s) => {
      if (s.cache && s.cache.fetchedAt > cache.fetchedAt) return s; // a newer answer was saved meanwhile
      const { lastCheckFailedAt: _dropped, ...rest } = s;
      return { ...rest, cache };
    };
  } catch (e) {
    onWarning(`upkeep: ${(e as Error).message}; using the installed client tools`);
    mutate = (s) => ({ ...s, lastCheckFailedAt: now.getTime() });
  }
  try {
    return await updateToolsState(dir, mutate);
  } catch {
    // A read-only (or damaged, or busy) tools dir must not stop the tool.
    return mutate(state);
  }
}
