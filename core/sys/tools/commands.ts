/** The work behind `upkeep tools login|status|update|pin|unpin|clean|install-shims`. */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isUpkeepError, UpkeepError, UsageError } from "../../errors.ts";
import { cachedAnswer, cacheTtlMs, chooseVersion, isBelow } from "../../tools/choose_version.ts";
import { effectiveServer } from "../../tools/effective_server.ts";
import { isToolName } from "../../tools/is_tool_name.ts";
import { retryAdvice, withoutRefusal } from "../../tools/refused.ts";
import { sameServer } from "../../tools/same_server.ts";
import type { ToolsState } from "../../tools/types.ts";
import { isValidProduct } from "../../trust/artifact_name.ts";
import { formatPublicKey, keyIdHex } from "../../trust/minisign.ts";
import { formatVersion } from "../../version/format_version.ts";
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { pointAt } from "../install/dirs.ts";
import { checkUrl } from "../install/mod.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { loadTrustedKeys } from "../keys.ts";
import { acquireLock } from "../lock.ts";
import type { ExecIo } from "./exec_tool.ts";
import { isInstalled, listInstalledTools } from "./installed.ts";
import { statePath, toolsDir } from "./paths.ts";
import { askServer } from "./server_answer.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";

type Env = Record<string, string | undefined>;

/** The bare base64 line of a public key, as stored in tools.json and accepted by loadTrustedKeys. */
function bareKey(pk: Parameters<typeof formatPublicKey>[0]): string {
  const lines = formatPublicKey(pk).trim().split("\n");
  return lines[lines.length - 1] as string;
}

export interface LoginInput {
  server: string;
  product: string;
  baseUrl?: string;
  trustKey?: string[];
  insecure?: boolean;
  /** Asks the enrollment question on a terminal; answers true for YES. */
  ask?: (question: string) => Promise<boolean>;
}

export async function login(input: LoginInput, env: Env, io: ExecIo): Promise<ToolsState> {
  const dir = toolsDir(env);
  const server = input.server.replace(/\/+$/, "");
  checkUrl(server, input.insecure === true);
  if (!isValidProduct(input.product))
    throw new UsageError(
      `--product ${JSON.stringify(input.product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
    );
  const { state: old, exists } = readSavedLogin(dir);
  // The same server (compared as URLs, not as strings) keeps what was set up for it: the pinned key, the
  // enrollment answer, a mirror base URL given before.
  const same = exists && sameServer(old.server, server);
  const baseUrl = (input.baseUrl ?? (same && old.baseUrl ? old.baseUrl : `${server}/artifacts`)).replace(
    /\/+$/,
    "",
  );
  checkUrl(baseUrl, input.insecure === true);
  let answer: Awaited<ReturnType<typeof askServer>> | undefined;
  try {
    answer = await askServer(server, 10_000);
  } catch (e) {
    // A server not configured yet: the login is kept; the tools follow it once it names a version.
    if (!isUpkeepError(e) || e.code !== "E_NOT_READY") throw e;
    io.warn(`upkeep: ${e.message}; logged in anyway, the client tools follow it once it names one`);
  }

  let trustKeys: string[];
  // UPKEEP_TOOLS_TRUST_KEY (comma-separated files or base64 keys) stands for --trust-key, as it does for the
  // other tools commands: the environment beats what was saved.
  const envKeys = (env.UPKEEP_TOOLS_TRUST_KEY ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (input.trustKey?.length) {
    trustKeys = (await loadTrustedKeys(input.trustKey)).map(bareKey);
  } else if (envKeys.length > 0) {
    trustKeys = (await loadTrustedKeys(envKeys)).map(bareKey);
  } else if (old.trustKeys.length > 0 && same && old.product === input.product) {
    trustKeys = old.trustKeys; // pinned at the first login; the server cannot change it
  } else {
    const url = `${baseUrl}/${input.product}.pub`;
    let text: string;
    try {
      // A public key is one short line: 4 KiB and 10 s are plenty (a hostile base URL cannot stall login).
      const { fetchCapped } = await import("../install/download.ts");
      const bytes = await fetchCapped(url, 4096, "public key", {
        insecure: input.insecure === true,
        totalMs: 10_000,
      });
      text = new TextDecoder().decode(bytes);
    } catch (e) {
      throw new UpkeepError(
        "E_KEY",
        `no --trust-key given and the published key ${url} cannot be fetched: ${(e as Error).message}`,
        {
          hint: "pass --trust-key PUBFILE (the release engineer's minisign public key) or set UPKEEP_TOOLS_TRUST_KEY; or the operator publishes it: upkeep admin publish --key PUBFILE",
          exitCode: 2,
        },
      );
    }
    const { parsePublicKey } = await import("../../trust/minisign.ts");
    const pk = parsePublicKey(text);
    trustKeys = [bareKey(pk)];
    io.warn(
      `WARNING: trusting the release key ${keyIdHex(pk.keyId)} published at ${url} (trust on first use). ` +
        "Check this key id with your release engineer; it is pinned from now on and the server cannot change it.",
    );
  }

  let enrolled = old.enrolled;
  if (!same) {
    enrolled =
      io.tty() && input.ask ? await input.ask("Enroll client tools into automatic updates? [YES/no] ") : true;
  }
  const cache = answer ? { ...answer, fetchedAt: io.now().getTime(), server } : undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written on the file as it is now (under its lock): a pin made meanwhile is kept unless the product or
  // base URL changes. A damaged file is moved aside, named in a warning, and login starts fresh.
  return await updateToolsState(
    dir,
    (cur) => {
      const state: ToolsState = {
        ...cur,
        server,
        product: input.product,
        baseUrl,
        trustKeys,
        enrolled,
        ...(cache ? { cache } : {}),
      };
      if (!cache) delete state.cache;
      delete state.lastCheckFailedAt;
      // Plain http to a remote host is allowed by the flag of this login only.
      if (input.insecure) state.insecure = true;
      else delete state.insecure;
      // Another product or base URL is another release manifest: its serial and versions start afresh.
      if (cur.product !== input.product || !sameServer(cur.baseUrl, baseUrl)) {
        delete state.lastSerial;
        delete state.floor;
        delete state.pinned;
        delete state.refused;
      }
      return state;
    },
    {
      resetSerial: true,
      now: io.now(),
      onDamaged: (aside) =>
        io.warn(`WARNING: ${statePath(dir)} was damaged: moved it aside as ${aside}; starting a fresh login`),
    },
  );
}

/** The saved login; a damaged file counts as none here (login moves it aside when it writes). */
function readSavedLogin(dir: string): { state: ToolsState; exists: boolean } {
  try {
    return readToolsState(dir);
  } catch (e) {
    if (e instanceof UpkeepError && e.code === "E_MALFORMED")
      return { state: { trustKeys: [], enrolled: false }, exists: false };
    throw e;
  }
}

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
  if (!have) {
    const { installToolsVersion } = await import("./install_tools.ts");
    await installToolsVersion({ dir, state, version: a.toolsVersion, source: "update", io, env });
  }
  // What runs next (a bad UPKEEP_TOOLS_VERSION must not turn a done install into a failure).
  const after = await status(env, io).catch(() => undefined);
  return {
    version: a.toolsVersion,
    newly_installed: !have,
    runs: after?.version ?? null,
    source: after === undefined ? "unknown" : after.env_version !== null ? "env" : after.source,
  };
}

export interface PinResult {
  state: ToolsState;
  /**
   * How the version was checked: `manifest` (listed in the verified release manifest), `installed` (already
   * here: it runs without the mirror), or `unchecked` (the mirror could not say: pinned with a warning).
   */
  checked: "manifest" | "installed" | "unchecked" | null;
}

/**
 * `tools pin VERSION` (or unpin with undefined). A version is checked first against the verified release
 * manifest of the mirror: one that is not published (or below its floor, or without an artifact for this
 * machine) is refused with the versions that are, instead of failing at the next run. When the mirror cannot
 * say (unreachable, not logged in, a manifest that does not verify), the pin is made with a warning.
 */
export async function pin(
  version: string | undefined,
  env: Env,
  io: Pick<ExecIo, "warn" | "now"> = { warn: () => {}, now: () => new Date() },
): Promise<PinResult> {
  const dir = toolsDir(env);
  let pinned: string | undefined;
  let checked: PinResult["checked"] = null;
  if (version !== undefined) {
    const v = tryParseVersion(version);
    if (!v) throw new UsageError(`invalid version ${JSON.stringify(version)}: expected MAJOR.MINOR.PATCH`);
    pinned = formatVersion(v);
    checked = await checkPin(dir, pinned, env, io);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const state = await updateToolsState(dir, (cur) => {
    // Pinning a refused version forces a retry of it (as `upkeep agent pin` does for a skipped one).
    const next = pinned === undefined ? { ...cur } : withoutRefusal(cur, pinned);
    if (pinned === undefined) delete next.pinned;
    else next.pinned = pinned;
    return next;
  });
  return { state, checked };
}

/** How long `tools pin` waits for the mirror's manifest before pinning unchecked. */
const PIN_CHECK_MS = 15_000;

async function checkPin(
  dir: string,
  version: string,
  env: Env,
  io: Pick<ExecIo, "warn" | "now">,
): Promise<NonNullable<PinResult["checked"]>> {
  if (isInstalled(dir, version)) return "installed";
  const unchecked = (why: string): "unchecked" => {
    io.warn(
      `WARNING: v${version} was not checked against the release manifest (${why}): pinned anyway; the next run installs it if it is published`,
    );
    return "unchecked";
  };
  const { state } = readToolsState(dir);
  const { toolsSource } = await import("./install_tools.ts");
  let src: ReturnType<typeof toolsSource>;
  try {
    src = toolsSource(state, env);
  } catch (e) {
    return unchecked((e as Error).message);
  }
  const { currentPlatform, fetchVerifiedManifest } = await import("../install/mod.ts");
  const { installableReleases } = await import("../../trust/manifest.ts");
  const { formatArtifactName } = await import("../../trust/artifact_name.ts");
  const signal = AbortSignal.timeout(PIN_CHECK_MS);
  let manifest: Awaited<ReturnType<typeof fetchVerifiedManifest>>["manifest"];
  try {
    const source = {
      baseUrl: src.baseUrl,
      product: src.product,
      trustedKeys: await loadTrustedKeys(src.keys),
      insecure: state.insecure === true,
    };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    manifest = (
      await fetchVerifiedManifest(source, {
        now: io.now(),
        ...(state.lastSerial === undefined ? {} : { lastSerial: state.lastSerial }),
        workDir: dir,
        signal,
      })
    ).manifest;
  } catch (e) {
    if (signal.aborted) return unchecked(`no answer from ${src.baseUrl} within ${PIN_CHECK_MS / 1000} s`);
    return unchecked((e as Error).message);
  }
  const installable = installableReleases(manifest).map((r) => r.version);
  const published = installable.length ? installable.map((x) => `v${x}`).join(", ") : "none";
  const release = manifest.releases.find((r) => r.version === version);
  if (!release)
    throw new UsageError(`client tools v${version} are not in the ${manifest.product} release manifest`, {
      code: "E_NOT_IN_MANIFEST",
      hint: `published: ${published} (nothing was pinned)`,
    });
  if (!installable.includes(version))
    throw new UsageError(
      `client tools v${version} are below the floor v${manifest.floor} of the ${manifest.product} release manifest`,
      { code: "E_BELOW_FLOOR", hint: `installable: ${published} (nothing was pinned)` },
    );
  const p = currentPlatform();
  const name = formatArtifactName({ product: manifest.product, version, ...p });
  if (!release.artifacts.some((a) => a.name === name)) {
    const here = installableReleases(manifest)
      .filter((r) =>
        r.artifacts.some(
          (a) => a.name === formatArtifactName({ product: manifest.product, version: r.version, ...p }),
        ),
      )
      .map((r) => `v${r.version}`);
    throw new UsageError(`client tools v${version} have no artifact for this machine (${name})`, {
      code: "E_NOT_FOUND",
      hint: `published for ${p.os}-${p.arch}: ${here.join(", ") || "none"} (nothing was pinned)`,
    });
  }
  return "manifest";
}

/**
 * Removes every installed version and any partial download; keeps the login. Under the install lock (no
 * install renames a version into place meanwhile); each version folder is renamed aside before it is
 * deleted, so a shim starting now runs the whole version or finds none.
 */
export async function clean(env: Env, io: Pick<ExecIo, "warn">): Promise<string[]> {
  const dir = toolsDir(env);
  const removed: string[] = [];
  try {
    readdirSync(dir);
  } catch {
    return removed;
  }
  const lock = await acquireLock(`${dir}/.install.lock`, {
    waitMs: 15 * 60_000,
    what: "upkeep tools clean",
    onWait: (holder) => io.warn(`upkeep: waiting for an install in progress (${holder})`),
  });
  try {
    for (const name of readdirSync(dir)) {
      if (tryParseVersion(name) && !name.startsWith(".")) {
        if (removeVersionDir(dir, name)) removed.push(name);
      } else if (name.startsWith(".tmp-") || name.startsWith(".download-")) {
        rmSync(join(dir, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
  } finally {
    lock.release();
  }
  return removed;
}

/**
 * Makes `<dir>/<tool>` a link to this executable, atomically replacing an older link (the installer's
 * `pointAt`: a new link renamed over the old one, the temp link removed on failure, the directory synced).
 */
export async function installShims(tools: string[], dir: string, self: string): Promise<string[]> {
  if (tools.length === 0)
    throw new UsageError("name at least one tool, e.g. `upkeep tools install-shims tsh tctl`");
  mkdirSync(dir, { recursive: true });
  const made: string[] = [];
  for (const tool of tools) {
    if (!isToolName(tool) || tool.startsWith("upkeep")) {
      throw new UsageError(`invalid tool name ${JSON.stringify(tool)}`);
    }
    const link = join(dir, tool);
    try {
      const st = lstatSync(link);
      if (!st.isSymbolicLink())
        throw new UpkeepError("E_EXISTS", `${link} exists and is not a link: not replacing it`, {
          hint: "remove or rename it yourself, or put the shims in another folder with --dir",
          exitCode: 1,
        });
      if (readlinkSync(link) === self) {
        made.push(link);
        continue;
      }
    } catch (e) {
      if (e instanceof UpkeepError) throw e;
      const code = (e as { code?: string }).code;
      if (code !== "ENOENT")
        throw new UpkeepError("E_IO", `cannot inspect ${link}: ${code ?? String(e)}`, { cause: e });
    }
    await pointAt(link, self);
    made.push(link);
  }
  return made;
}
