/**
 * `upkeep tools exec TOOL ARGS...` and the shims (upkeep invoked as TOOL). The up-to-date path reads the
 * cached state, checks one marker file and runs the tool: no network, no CLI framework, no installer, and
 * only Bun-native file APIs (measured: `node:fs` adds ~3.5 ms, `node:path` ~1.6 ms, `node:tty` ~7 ms to
 * start-up). Everything else loads lazily, only when the cache is stale or the version is missing.
 */
import { UpkeepError, UsageError } from "../../errors.ts";
import { chooseVersion } from "../../tools/choose_version.ts";
import { effectiveServer } from "../../tools/effective_server.ts";
import { isToolName } from "../../tools/is_tool_name.ts";
import { outOfDateMessage } from "../../tools/out_of_date_message.ts";
import type { ToolsState, VersionChoice } from "../../tools/types.ts";
import { errorCodeOf } from "../io_error.ts";
import { isInstalled, listInstalledTools, touchTools } from "./installed.ts";
import { toolsDir } from "./paths.ts";
import { runTool } from "./run_tool.ts";
import { readToolsState } from "./state_file.ts";

export interface ExecIo {
  /** stdin and stderr are terminals: prompts and a progress bar are allowed (evaluated lazily). */
  tty: () => boolean;
  warn: (line: string) => void;
  now: () => Date;
}

/** Nested upkeep shims deeper than this are a loop (a release whose tool is a shim of itself). */
const MAX_DEPTH = 3;

/**
 * The shim's path, kept to small functions on purpose: a function's bytecode is linked on its first call in
 * a fresh process, so the rare branches (refresh, warn, install, refuse) live in functions of their own that
 * the up-to-date path never calls.
 */
export async function execTool(
  tool: string,
  args: string[],
  env: Record<string, string | undefined>,
  io: ExecIo,
): Promise<number> {
  const depth = guardDepth(tool, env);
  const dir = toolsDir(env);
  const { state } = readToolsState(dir);
  const server = effectiveServer(state, env);
  const choice = choose(state, server, dir, env, io);
  const version =
    !choice.stale &&
    !choice.outOfDate &&
    !choice.belowFloor &&
    choice.version &&
    isInstalled(dir, choice.version)
      ? choice.version
      : await versionToRun(tool, dir, state, server, choice, env, io);
  const vdir = `${dir}/${version}`;
  const bin = `${vdir}/bin/${tool}`;
  const guard = String(depth + 1);
  // No stat of the tool first: starting it is the check (a missing tool is the rare case, explained below).
  const touch = () => touchTools(vdir, io.now());
  try {
    if (env === process.env) {
      process.env.UPKEEP_TOOLS_GUARD = guard; // inherited by the child
      return await runTool(bin, args, process.env, touch);
    }
    return await runTool(bin, args, { ...env, UPKEEP_TOOLS_GUARD: guard }, touch);
  } catch (e) {
    throw cannotStart(e, tool, version, vdir);
  }
}

/** Refuses a bad tool name and a re-exec loop; answers how deep in nested shims this run is. */
function guardDepth(tool: string, env: Record<string, string | undefined>): number {
  if (!isToolName(tool)) throw new UsageError(`invalid tool name ${JSON.stringify(tool)}`);
  const depth = Number(env.UPKEEP_TOOLS_GUARD ?? "0") || 0;
  if (depth >= MAX_DEPTH) {
    throw new UpkeepError(
      "E_LOOP",
      `re-exec loop: ${tool} keeps starting upkeep (UPKEEP_TOOLS_GUARD=${depth})`,
      {
        hint: "the installed tool must not be an upkeep shim; check the release, or run the tool by its full path",
      },
    );
  }
  return depth;
}

function choose(
  state: ToolsState,
  server: string | undefined,
  dir: string,
  env: Record<string, string | undefined>,
  io: ExecIo,
): VersionChoice {
  try {
    return chooseVersion({
      state,
      server,
      envVersion: env.UPKEEP_TOOLS_VERSION,
      installed: () => listInstalledTools(dir).map((i) => i.version),
      now: io.now().getTime(),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Everything off the up-to-date path: ask the server when its cached answer is stale, warn when out of date,
 * install the chosen version when it is missing, refuse when nothing can run. Answers the version to run.
 */
async function versionToRun(
  tool: string,
  dir: string,
  state: ToolsState,
  server: string | undefined,
  first: VersionChoice,
  env: Record<string, string | undefined>,
  io: ExecIo,
): Promise<string> {
  let choice = first;
  if (choice.stale && !choice.off) {
    const { refreshCache } = await import("./server_answer.ts");
    state = await refreshCache(dir, state, server, state.insecure === true, io.now(), io.warn);
    choice = choose(state, server, dir, env, io);
  }
  if (choice.outOfDate && choice.version && choice.version !== choice.outOfDate) {
    io.warn(
      outOfDateMessage({
        tool,
        running: choice.version,
        cluster: choice.outOfDate,
        enrolled: state.enrolled,
        autoUpdate: state.cache?.toolsAutoUpdate === true,
      }),
    );
  }
  if (choice.belowFloor) refuseBelowFloor(tool, choice, state.floor, io);
  if (!choice.version) {
    throw new UpkeepError("E_NOT_FOUND", `no version of ${tool} is installed and no server is known`, {
      hint: "run `upkeep tools login --server URL --product NAME` first",
    });
  }
  const version = choice.version;
  if (isInstalled(dir, version)) return version;
  if (choice.off)
    throw new UpkeepError("E_NOT_FOUND", `UPKEEP_TOOLS_VERSION=off and no client tools installed in ${dir}`);
  const { installToolsVersion } = await import("./install_tools.ts");
  const r = await installToolsVersion({ dir, state, version, source: choice.source, io, env });
  if (!isInstalled(dir, r.runVersion))
    throw new UpkeepError("E_NOT_FOUND", `client tools v${r.runVersion} are not installed in ${dir}`);
  return r.runVersion;
}

/** The server named a version below the manifest's floor: warn and run the newest one at or above it, or refuse. */
function refuseBelowFloor(tool: string, choice: VersionChoice, floor: string | undefined, io: ExecIo): void {
  const what = `the server names client tools v${choice.belowFloor}, below the floor v${floor} of the signed release manifest`;
  if (!choice.version) {
    throw new UpkeepError("E_BELOW_FLOOR", `${what}, and no version at or above it is installed`, {
      hint: "ask the server's operator to fix the tools target version, or pin a version with `upkeep tools pin`",
    });
  }
  io.warn(`WARNING: ${what}: running ${tool} v${choice.version} instead`);
}

/** Why the tool could not be started, with what the release does have. */
function cannotStart(e: unknown, tool: string, version: string, vdir: string): UpkeepError {
  const code = errorCodeOf(e);
  if (code === "ENOENT" || code === "ENOTDIR") {
    let have: string[] = [];
    try {
      have = [...new Bun.Glob("*").scanSync({ cwd: `${vdir}/bin` })];
    } catch {
      if (!isInstalled(vdir.slice(0, vdir.lastIndexOf("/")), version))
        return new UpkeepError("E_NOT_FOUND", `client tools v${version} were removed while ${tool} started`, {
          hint: "another upkeep removed that version (`upkeep tools clean` or cleanup after an update): run it again",
          cause: e,
        });
    }
    if (have.includes(tool)) {
      return new UpkeepError("E_IO", `cannot start ${vdir}/bin/${tool}: ${(e as Error).message}`, {
        hint: "the file is there: its interpreter (#! line) or loader is missing on this machine",
        cause: e,
      });
    }
    return new UpkeepError("E_NOT_FOUND", `client tools v${version} have no ${tool}`, {
      hint: have.length ? `this release has: ${have.sort().join(", ")}` : `${vdir}/bin is empty`,
      cause: e,
    });
  }
  return new UpkeepError("E_IO", `cannot start ${vdir}/bin/${tool}: ${(e as Error).message}`, {
    hint: "check that the file is an executable for this machine",
    cause: e,
  });
}
