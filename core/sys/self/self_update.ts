/**
 * `upkeep self-update` (DESIGN §9): a workstation's upkeep replaced by the version its server names, through
 * the same trust path as the agent's self-update (fetch_updater.ts, the keys of trust_keys.ts), into the
 * running executable's place with one rename. Refused, with nothing changed, when that place is not ours to
 * replace: managed by a package manager (dpkg, rpm, Homebrew) or by `upkeep agent` (which updates itself),
 * or not writable by this user.
 */
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { UpkeepError, UsageError } from "../../errors.ts";
import { formatVersion, tryParseVersion } from "../../version/mod.ts";
import { fsyncDir } from "../install/extract.ts";
import { currentPlatform } from "../install/mod.ts";
import { toolsDir } from "../tools/paths.ts";
import { fetchFind } from "../tools/server_answer.ts";
import { readToolsState } from "../tools/state_file.ts";
import { type FetchedUpdater, fetchVerifiedUpdater, type SelfTrustState } from "./fetch_updater.ts";
import { selfTrustKeys } from "./trust_keys.ts";

export interface SelfUpdateInput {
  /** The running executable (process.execPath). */
  executable: string;
  runningVersion: string;
  /** `--version`: this version instead of the server's `updater_version`. */
  version?: string;
  /** `--server`; default UPKEEP_SERVER, then the server of `upkeep tools login`. */
  server?: string;
  /** `--base-url`; default the tools login's, then the server's artifacts URL. */
  baseUrl?: string;
  /** `--self-trust-key`: more keys for upkeep's own releases (a fork, an internal build). */
  trustKeys: string[];
  insecure: boolean;
  /** Only say what would be done. */
  check: boolean;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}

export interface SelfUpdateResult {
  path: string;
  from: string;
  /** The version asked for; null when the server names none. */
  to: string | null;
  updated: boolean;
  /** Why nothing was done (up to date, the server names none, --check). */
  reason?: string;
  serial?: number;
  /** What was fetched: a patch from the executable being replaced (`delta`) or the whole one (`full`). */
  download?: FetchedUpdater["download"];
}

/** What decides where the executable is managed: package databases, looked up by path. */
export interface ManagerProbe {
  /** `dpkg -S PATH` / `rpm -qf PATH`: the owning package's name, or undefined. */
  owner(tool: "dpkg" | "rpm", path: string): string | undefined;
}

const realProbe: ManagerProbe = {
  owner(tool, path) {
    const args = tool === "dpkg" ? ["-S", path] : ["-qf", path];
    const r = spawnSync(tool, args, { encoding: "utf8", timeout: 10_000 });
    if (r.error || r.status !== 0) return undefined;
    const out = r.stdout.trim();
    // dpkg: "pkg[:arch][, pkg2]: /path"; rpm: "name-version.arch".
    return tool === "dpkg" ? out.slice(0, out.lastIndexOf(": ")) || out : out.split("\n")[0];
  },
};

/**
 * Why `path` may not be replaced in place (a package manager or the agent owns it), or undefined. The
 * caller refuses with it.
 */
export function managedBy(path: string, probe: ManagerProbe = realProbe): string | undefined {
  if (/\/updater\/versions\/[^/]+\/upkeep$/.test(path) || /\/updater\/current\//.test(path))
    return "upkeep agent (the host's updater updates itself: upkeep agent enable, and the server's updater_version)";
  if (path.includes("/Cellar/")) return "Homebrew (brew upgrade upkeep)";
  const deb = probe.owner("dpkg", path);
  if (deb) return `the Debian package ${deb} (dpkg -S ${path}): update it with apt`;
  const rpm = probe.owner("rpm", path);
  if (rpm) return `the RPM package ${rpm} (rpm -qf ${path}): update it with dnf or yum`;
  return undefined;
}

function stateFile(env: Record<string, string | undefined>): string {
  return join(dirname(toolsDir(env)), "self-update.json");
}

function readState(path: string): SelfTrustState {
  try {
    const doc = JSON.parse(readFileSync(path, "utf8")) as { lastSerial?: unknown };
    return typeof doc.lastSerial === "number" && Number.isSafeInteger(doc.lastSerial)
      ? { lastSerial: doc.lastSerial }
      : {};
  } catch {
    return {};
  }
}

function saveState(path: string, s: SelfTrustState): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(s)}\n`, { mode: 0o644 });
    renameSync(tmp, path);
  } catch {
    // Best effort: the next run checks the serial against what it had.
  }
}

/** The executable's real path, refused when it is not a compiled upkeep or not ours to replace. */
function replaceable(executable: string, probe: ManagerProbe): string {
  let path: string;
  try {
    path = realpathSync(executable);
  } catch (e) {
    throw new UpkeepError("E_IO", `cannot find the running executable ${executable}`, { cause: e });
  }
  if (basename(path) === "bun" || basename(path) === "node")
    throw new UsageError(`upkeep is running from its sources (${path}), not as a compiled executable`, {
      hint: "self-update replaces a compiled upkeep: run the upkeep executable",
    });
  const owner = managedBy(path, probe);
  if (owner)
    throw new UpkeepError("E_CONFLICT", `${path} is managed by ${owner}: upkeep does not replace it`, {
      hint: "update it the way it was installed",
    });
  const dir = dirname(path);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    accessSync(path, constants.W_OK);
  } catch (e) {
    throw new UpkeepError(
      "E_IO",
      `cannot replace ${path}: this user (uid ${process.getuid?.() ?? "?"}) may not write ${dir}`,
      {
        cause: e,
        hint: `run it as the user who owns ${dir} (e.g. sudo upkeep self-update), or install upkeep where you can write`,
      },
    );
  }
  return path;
}

/** The server, base URL and version to use: flags, then the tools login, then the server's answer. */
async function decide(
  input: SelfUpdateInput,
): Promise<{ version: string | undefined; baseUrl: string; why?: string }> {
  const tools = readToolsState(toolsDir(input.env)).state;
  const server = (input.server ?? input.env.UPKEEP_SERVER ?? tools.server)?.replace(/\/+$/, "");
  const explicit = input.version === undefined ? undefined : tryParseVersion(input.version);
  if (input.version !== undefined && !explicit)
    throw new UsageError(`--version ${input.version}: not a version (like 1.2.3)`);
  if (server === undefined && (input.baseUrl === undefined || explicit === undefined))
    throw new UsageError("no server: pass --server URL (or log in with upkeep tools login)", {
      hint: "or name both --version and --base-url",
    });
  const found = server === undefined ? undefined : await fetchFind(server, 10_000);
  const sameServer = tools.server?.replace(/\/+$/, "") === server;
  const baseUrl =
    input.baseUrl ??
    (sameServer ? tools.baseUrl : undefined) ??
    found?.artifactsUrl ??
    `${server as string}/artifacts`;
  if (explicit) return { version: formatVersion(explicit), baseUrl };
  if (found?.updaterVersion === undefined)
    return {
      version: undefined,
      baseUrl,
      why: `the server ${server} names no upkeep version (its updater_version is off, or upkeep-releases.json does not list its own)`,
    };
  return { version: found.updaterVersion, baseUrl };
}

/** `upkeep self-update`: see the module comment. */
export async function selfUpdate(
  input: SelfUpdateInput,
  probe: ManagerProbe = realProbe,
): Promise<SelfUpdateResult> {
  const path = replaceable(input.executable, probe);
  const from = input.runningVersion;
  const d = await decide(input);
  if (d.version === undefined) return { path, from, to: null, updated: false, reason: d.why ?? "" };
  if (d.version === from)
    return { path, from, to: d.version, updated: false, reason: `upkeep ${from} is up to date` };
  if (input.check)
    return { path, from, to: d.version, updated: false, reason: `upkeep ${d.version} would replace ${from}` };
  const keys = await selfTrustKeys(input.trustKeys);
  const statePath = stateFile(input.env);
  const platform = currentPlatform();
  // Beside it (one rename replaces it), named upkeep* so that it runs as upkeep, not as a tool shim.
  const staged = join(dirname(path), `upkeep-v${d.version}.self-update`);
  input.log(`upkeep: fetching upkeep ${d.version} from ${d.baseUrl}`);
  let got: FetchedUpdater;
  try {
    got = await fetchVerifiedUpdater({
      baseUrl: d.baseUrl,
      version: d.version,
      os: platform.os,
      arch: platform.arch,
      keys,
      dest: staged,
      state: readState(statePath),
      insecure: input.insecure,
      // A patch the manifest lists from this version applies to the executable being replaced.
      deltaBase: { path, version: from },
      log: (line) => input.log(`upkeep: ${line}`),
    });
    smoke(staged, got.version);
    renameSync(staged, path);
  } catch (e) {
    rmSync(staged, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
  saveState(statePath, { lastSerial: got.serial });
  return {
    path,
    from,
    to: got.version,
    updated: true,
    serial: got.serial,
    ...(got.download ? { download: got.download } : {}),
  };
}

/** The new executable must run and say it is `version` (before it replaces anything). */
function smoke(exe: string, version: string): void {
  const r = spawnSync(exe, ["--version"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: process.env.PATH },
  });
  const said = (r.stdout ?? "").trim();
  if (r.error || r.status !== 0 || said !== `upkeep ${version}`) {
    throw new UpkeepError(
      "E_SMOKE",
      `the verified upkeep ${version} does not run here: \`upkeep --version\` ${r.error ? `failed (${r.error.message})` : `exited ${r.status} saying ${JSON.stringify(said.slice(0, 200))}`}`,
      { hint: "nothing was replaced; report it to whoever publishes upkeep's releases" },
    );
  }
}
