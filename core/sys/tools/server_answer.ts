/** Asks the cluster which client-tools version to run (`/v1/webapi/find`) and caches the answer. */
import { UpkeepError } from "../../errors.ts";
import { checkUrl } from "../../install/url.ts";
import type { ToolsState } from "../../tools/types.ts";
import { type FindParse, parseFind, type ToolsAnswer } from "../../wire/parse_find.ts";
import { MAX_FIND_ANSWER_BYTES, readCapped, Watchdog } from "../bounded_http.ts";
import { updateToolsState } from "./state_store.ts";

const HINT =
  "check that the server runs and its URL (upkeep tools login --server URL); installed tools still run";

/** Asks `<server>/v1/webapi/find`: the answer, body included, within `timeoutMs`, and at most 1 MiB. */
export async function askServer(server: string, timeoutMs = 3000): Promise<ToolsAnswer> {
  return toolsAnswerOf(await fetchFind(server, timeoutMs), server);
}

/** `<server>/v1/webapi/find`, read and parsed (a bad tools part is left to `toolsAnswerOf`). */
export async function fetchFind(server: string, timeoutMs = 3000): Promise<FindParse> {
  const url = `${server.replace(/\/+$/, "")}/v1/webapi/find`;
  const watchdog = new Watchdog({ idleMs: timeoutMs, totalMs: timeoutMs });
  let bytes: Uint8Array;
  try {
    let r: Response;
    try {
      r = await fetch(url, { signal: watchdog.signal, redirect: "error" });
    } catch (e) {
      throw new UpkeepError("E_NETWORK", `cannot reach ${url}: ${watchdog.why(e)}`, {
        cause: e,
        hint: HINT,
      });
    }
    if (!r.ok) {
      await r.body?.cancel().catch(() => {});
      throw new UpkeepError("E_SERVER", `${url} answered ${r.status}`);
    }
    try {
      bytes = await readCapped(r, {
        url,
        max: MAX_FIND_ANSWER_BYTES,
        watchdog,
        tooLarge: (max) => new UpkeepError("E_SERVER", `${url}: answer larger than ${max}`),
      });
    } catch (e) {
      if (e instanceof UpkeepError && e.code === "E_NETWORK") {
        throw new UpkeepError("E_NETWORK", e.message, { cause: e, hint: HINT });
      }
      throw e;
    }
  } finally {
    watchdog.dispose();
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UpkeepError("E_SERVER", `${url} did not answer JSON`, { cause: e });
  }
  return parseFind(doc);
}

/** The client tools' part of a find answer of `server`; E_SERVER when it is wrong, E_NOT_READY with none. */
export function toolsAnswerOf(found: FindParse, server: string): ToolsAnswer {
  const url = `${server.replace(/\/+$/, "")}/v1/webapi/find`;
  const answer = found.tools;
  if (typeof answer === "string") throw new UpkeepError("E_SERVER", `${url}: ${answer}`);
  if ("noVersion" in answer) {
    // An upkeep server with no tools version yet: not an error of the server, nothing to run from it yet.
    const why = answer.why === undefined ? "" : `: ${answer.why}`;
    throw new UpkeepError("E_NOT_READY", `${server} names no client tools version yet${why}`, {
      hint: "its operator sets one (upkeep admin apply of kind: autoupdate_version with spec.tools.target_version)",
    });
  }
  return answer;
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
