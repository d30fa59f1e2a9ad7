/** `upkeep tools status`: which version runs, and why. */
import { UsageError } from "../../errors.ts";
import { cachedAnswer, cacheTtlMs, chooseVersion, isBelow } from "../../tools/choose_version.ts";
import { effectiveServer } from "../../tools/effective_server.ts";
import { retryAdvice } from "../../tools/refused.ts";
import type { ExecIo } from "./exec_tool.ts";
import { listInstalledTools } from "./installed.ts";
import { toolsDir } from "./paths.ts";
import { readToolsState } from "./state_store.ts";

type Env = Record<string, string | undefined>;

export interface ToolsStatus {
  tools_dir: string;
  server: string | null;
  product: string | null;
  base_url: string | null;
  enrolled: boolean;
  pinned: string | null;
  env_version: string | null;
  server_version: string | null;
  server_auto_update: boolean | null;
  checked_at: string | null;
  /** Seconds since the server was asked (its answer cached), null when there is no answer. */
  cache_age_seconds: number | null;
  /** How long that answer stays fresh: the server's `cache_seconds` (bounded), else an hour. */
  cache_seconds: number | null;
  /** Where the lifetime comes from: `server` (advertised) or `default` (the server says nothing). */
  cache_seconds_from: "server" | "default" | null;
  /** The answer is older than its lifetime: the next tool run (or `tools update`) asks the server again. */
  cache_stale: boolean | null;
  version: string | null;
  source: string;
  installed: { version: string; last_used: string }[];
  /** Releases refused on this machine (never downloaded again while the manifest lists the same bytes). */
  refused: {
    version: string;
    artifact: string;
    sha256: string;
    code: string;
    reason: string;
    refused_at: string;
    checked_at: string;
    retry: string;
  }[];
  /** The version chosen (`version` before a refusal), refused here: another one runs, or nothing. */
  refused_choice: string | null;
}

export async function status(env: Env, io: ExecIo): Promise<ToolsStatus> {
  const dir = toolsDir(env);
  const { state } = readToolsState(dir);
  const server = effectiveServer(state, env);
  const installed = listInstalledTools(dir).sort((a, b) => b.lastUsed - a.lastUsed);
  let choice: ReturnType<typeof chooseVersion>;
  try {
    choice = chooseVersion({
      state,
      server,
      envVersion: env.UPKEEP_TOOLS_VERSION,
      installed: installed.map((i) => i.version),
      now: io.now().getTime(),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const cache = cachedAnswer(state, server); // only the answer of the server asked now
  // A chosen version refused here is not what runs: another installed one does (server's choice), or nothing.
  let version = choice.version;
  let source: string = choice.source;
  const refusedChoice =
    version !== undefined &&
    !installed.some((i) => i.version === version) &&
    state.refused?.some((r) => r.version === version)
      ? version
      : undefined;
  if (refusedChoice) {
    const fallback =
      choice.source === "server"
        ? installed.find((i) => !(state.floor && isBelow(i.version, state.floor)))
        : undefined;
    version = fallback?.version;
    source = fallback ? "installed" : choice.source;
  }
  return {
    tools_dir: dir,
    server: server ?? null,
    product: state.product ?? null,
    base_url: env.UPKEEP_TOOLS_BASE_URL || state.baseUrl || null,
    enrolled: state.enrolled,
    pinned: state.pinned ?? null,
    env_version: env.UPKEEP_TOOLS_VERSION ?? null,
    server_version: cache?.toolsVersion ?? null,
    server_auto_update: cache?.toolsAutoUpdate ?? null,
    checked_at: cache ? new Date(cache.fetchedAt).toISOString() : null,
    cache_age_seconds: cache ? Math.max(0, Math.floor((io.now().getTime() - cache.fetchedAt) / 1000)) : null,
    cache_seconds: cache ? cacheTtlMs(cache) / 1000 : null,
    cache_seconds_from: cache ? (cache.cacheSeconds === undefined ? "default" : "server") : null,
    cache_stale: cache ? io.now().getTime() - cache.fetchedAt > cacheTtlMs(cache) : null,
    version: version ?? null,
    source,
    installed: installed.map((i) => ({ version: i.version, last_used: new Date(i.lastUsed).toISOString() })),
    refused: (state.refused ?? []).map((r) => ({
      version: r.version,
      artifact: r.artifact,
      sha256: r.sha256,
      code: r.code,
      reason: r.reason,
      refused_at: new Date(r.refusedAt).toISOString(),
      checked_at: new Date(r.checkedAt).toISOString(),
      retry: retryAdvice(r.version),
    })),
    refused_choice: refusedChoice ?? null,
  };
}
