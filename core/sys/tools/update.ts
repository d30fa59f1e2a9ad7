/** `upkeep tools update`: ask the server now and install the version it names. */
import { UpkeepError, UsageError } from "../../errors.ts";
import { isBelow } from "../../tools/choose_version.ts";
import { effectiveServer } from "../../tools/effective_server.ts";
import { checkUrl, type DownloadFacts } from "../install/mod.ts";
import type { ExecIo } from "./exec_tool.ts";
import { isInstalled } from "./installed.ts";
import { toolsDir } from "./paths.ts";
import { askServer } from "./server_answer.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";
import { status } from "./status.ts";

type Env = Record<string, string | undefined>;

/** Asks the server now and installs the version it names. */
export interface UpdateResult {
  /** The version the server names. */
  version: string;
  /** Installed by this run (false: it was there already). */
  newly_installed: boolean;
  /** What the next run of a tool starts (a pin, UPKEEP_TOOLS_VERSION, or no automatic updates may keep another). */
  runs: string | null;
  /** Where `runs` comes from: env, pin, server, installed. */
  source: string;
  /** What this run fetched: a patch (`delta`) or the whole artifact (`full`), bytes over the network. */
  download?: DownloadFacts;
}

export async function update(env: Env, io: ExecIo): Promise<UpdateResult> {
  const dir = toolsDir(env);
  let { state } = readToolsState(dir);
  const server = effectiveServer(state, env);
  if (!server)
    throw new UsageError("no server known", { hint: "run `upkeep tools login --server URL --product NAME`" });
  checkUrl(server, state.insecure === true);
  const a = await askServer(server);
  const cache = { ...a, fetchedAt: io.now().getTime(), server };
  state = await updateToolsState(dir, (cur) => {
    const { lastCheckFailedAt: _dropped, ...rest } = cur;
    return { ...rest, cache };
  });
  if (state.floor && isBelow(a.toolsVersion, state.floor)) {
    throw new UpkeepError(
      "E_BELOW_FLOOR",
      `the server names client tools v${a.toolsVersion}, below the floor v${state.floor} of the signed release manifest`,
      { hint: "ask the server's operator to fix the tools target version" },
    );
  }
  const have = isInstalled(dir, a.toolsVersion);
  let download: DownloadFacts | undefined;
  if (!have) {
    const { installToolsVersion } = await import("./install_tools.ts");
    ({ download } = await installToolsVersion({
      dir,
      state,
      version: a.toolsVersion,
      source: "update",
      io,
      env,
    }));
  }
  // What runs next (a bad UPKEEP_TOOLS_VERSION must not turn a done install into a failure).
  const after = await status(env, io).catch(() => undefined);
  return {
    version: a.toolsVersion,
    newly_installed: !have,
    runs: after?.version ?? null,
    source: after === undefined ? "unknown" : after.env_version !== null ? "env" : after.source,
    ...(download ? { download } : {}),
  };
}
