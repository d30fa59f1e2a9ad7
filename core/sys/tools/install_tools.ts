/**
 * Installs one client-tools version through the shared installer (download, verify, safe unpack, atomic
 * rename), once for concurrent invocations (a lock: the others wait and reuse it), with a progress bar on a
 * terminal and Ctrl-C to cancel (partial download removed, the installed version runs if there is one).
 */
import { mkdirSync, writeSync } from "node:fs";
import { skipsRelease } from "../../agent/decide.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { isBelow } from "../../tools/choose_version.ts";
import { progressBar } from "../../tools/progress_bar.ts";
import {
  findRefusal,
  isFreshRefusal,
  refusalSummary,
  retryAdvice,
  withoutRefusal,
  withRefusal,
  withRefusalChecked,
  withRefusalsListed,
} from "../../tools/refused.ts";
import type { RefusedRelease, ToolsState, VersionSource } from "../../tools/types.ts";
import { MAX_KEPT_VERSIONS } from "../../tools/types.ts";
import { versionsToRemove } from "../../tools/versions_to_remove.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import type { Manifest } from "../../trust/manifest.ts";
import {
  currentPlatform,
  fetchVerifiedManifest,
  installVersion,
  type VerifiedManifest,
} from "../install/mod.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { loadTrustedKeys } from "../keys.ts";
import { acquireLock } from "../lock.ts";
import type { ExecIo } from "./exec_tool.ts";
import { listInstalledTools } from "./installed.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";

export interface InstallToolsInput {
  dir: string;
  state: ToolsState;
  version: string;
  /** Where the version comes from; `update`: the server's answer, asked for by `upkeep tools update`. */
  source: VersionSource | "update";
  io: ExecIo;
  env: Record<string, string | undefined>;
}

/** Base URL and keys: the environment beats the saved configuration; neither ever comes from the server. */
export function toolsSource(state: ToolsState, env: Record<string, string | undefined>) {
  const baseUrl = env.UPKEEP_TOOLS_BASE_URL || state.baseUrl;
  const keys = env.UPKEEP_TOOLS_TRUST_KEY ? env.UPKEEP_TOOLS_TRUST_KEY.split(",") : state.trustKeys;
  if (!baseUrl || !state.product) {
    throw new UpkeepError("E_NOT_FOUND", "client tools are not configured: no base URL or product", {
      hint: "run `upkeep tools login --server URL --product NAME`",
      exitCode: 2,
    });
  }
  if (keys.length === 0) {
    throw new UpkeepError("E_KEY", "no trusted public key for client tools", {
      hint: "run `upkeep tools login ... --trust-key PUBFILE` or set UPKEEP_TOOLS_TRUST_KEY",
      exitCode: 2,
    });
  }
  return { baseUrl: baseUrl.replace(/\/+$/, ""), product: state.product, keys };
}

export async function installToolsVersion(
  input: InstallToolsInput,
): Promise<{ state: ToolsState; runVersion: string }> {
  const { dir, version, io } = input;
  let state = input.state;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(`${dir}/.install.lock`, {
    waitMs: 15 * 60_000,
    what: "upkeep tools install",
  });
  const tty = io.tty();
  // Ctrl-C (or SIGTERM) cancels the download cleanly: the installer removes its partial files.
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // The artifact as the verified manifest lists it, and whether the installer got as far as judging its
  // bytes (a refusal before that, e.g. a manifest for another product, says nothing about the release).
  let listed: { name: string; sha256: string } | undefined;
  let judged = false;
  // The refusal this run ends with (remembered, or made now): a one-line warning when another version runs.
  let refusal: RefusedRelease | undefined;
  // The refusal on record for these bytes, until a verified manifest lists other bytes for the version.
  let known: RefusedRelease | undefined;
  try {
    // Another invocation may have installed it while this one waited for the lock.
    if (listInstalledTools(dir).some((i) => i.version === version)) return { state, runVersion: version };
    const src = toolsSource(state, input.env);
    const platform = currentPlatform();
    const name = formatArtifactName({
      product: src.product,
      edition: platform.edition,
      version,
      os: platform.os,
      arch: platform.arch,
      fips: platform.fips,
    });
    // Bytes this machine refused are never downloaded again. Within the hour after the manifest last listed
    // them, not even the manifest is asked again (`tools update` always asks: a re-publication shows at once).
    // As on disk now: another invocation may have refused it while this one waited for the lock.
    known = findRefusal(freshState(dir, state) ?? state, version, name);
    if (known && input.source !== "update" && isFreshRefusal(known, io.now().getTime())) {
      refusal = known;
      throw refusedError(known, input.source);
    }
    const source = {
      baseUrl: src.baseUrl,
      product: src.product,
      trustedKeys: await loadTrustedKeys(src.keys),
      insecure: state.insecure === true,
    };
    const announce = () => {
      if (tty) io.warn(`Updating client tools to v${version}.`);
      else io.warn(`upkeep: installing client tools v${version} from ${src.baseUrl}`);
    };
    if (!known) announce();
    // The serial as it is now: another install may have raised it while this one waited for the lock.
    const lastSerial = maxSerial(state.lastSerial, freshSerial(dir));
    const manifest: VerifiedManifest = await fetchVerifiedManifest(source, {
      now: io.now(),
      ...(lastSerial !== undefined ? { lastSerial } : {}),
      workDir: dir,
    });
    // A manifest that verified is a fact about the releases whatever becomes of this install (the version
    // may be below its floor, missing from it, or fail to download): its serial and floor are recorded, and
    // the versions below its floor removed, before anything else is decided.
    state = await recordManifest(dir, state, manifest);
    // From here on this manifest decides about the refusal on record.
    const onRecord = known;
    known = undefined;
    const floor = state.floor;
    if (floor && (input.source === "server" || input.source === "update") && isBelow(version, floor))
      throw serverBelowFloor(version, floor);
    listed = listedArtifact(manifest.manifest, version, name);
    if (onRecord) {
      const now = io.now().getTime();
      if (listed?.sha256 === onRecord.sha256) {
        // The same bytes: the same verdict. Trusted for another hour without the network.
        state = await saveOwn(dir, state, (s) => withRefusalChecked(s, onRecord, now));
        refusal = onRecord;
        throw refusedError(onRecord, input.source);
      }
      // Re-published with other bytes (or no longer listed, which the installer says): tried again.
      state = await saveOwn(dir, state, (s) => withoutRefusal(s, version));
      announce();
    }
    let last = 0;
    const t0 = performance.now();
    const onProgress = tty
      ? (p: { received: number; total: number }) => {
          const t = performance.now();
          if (t - last < 100 && p.received < p.total) return;
          last = t;
          const rate = p.received / Math.max(0.001, (t - t0) / 1000);
          writeSync(2, `\r${progressBar(p.received, p.total, rate)}`);
        }
      : undefined;
    try {
      await installVersion({
        source,
        manifest,
        version,
        platform,
        versionsDir: dir,
        signal: controller.signal,
        onStep: (s) => {
          if (s === "verified") judged = true;
        },
        ...(onProgress ? { onProgress } : {}),
      });
    } finally {
      if (tty) writeSync(2, "\n");
    }
    cleanupOld(dir, version);
    if (!tty) io.warn(`upkeep: client tools v${version} installed`);
    return { state, runVersion: version };
  } catch (caught) {
    let e = caught;
    const cancelled = controller.signal.aborted;
    if (!refusal && known && !cancelled && input.source !== "update") {
      // The mirror could not say whether the release changed (unreachable, a manifest that does not verify):
      // the refusal on record stands. `tools update` reports the failure itself.
      refusal = known;
      e = refusedError(known, input.source, e);
    }
    if (judged && listed && !cancelled && isUpkeepError(e) && skipsRelease(e.code)) {
      // The installer refused bytes that verified: a verdict about the release, remembered with its sha256.
      const now = io.now().getTime();
      const made: RefusedRelease = {
        version,
        artifact: listed.name,
        sha256: listed.sha256,
        code: e.code,
        reason: e.message,
        refusedAt: now,
        checkedAt: now,
      };
      state = await saveOwn(dir, state, (s) => withRefusal(s, made));
      refusal = findRefusal(state, version, listed.name) ?? made;
      e = refusedError(refusal, input.source, e);
    }
    // Never one below the floor on record (its removal is best effort: a read-only tools dir keeps it).
    const floor = state.floor;
    const fallback = listInstalledTools(dir)
      .filter((i) => i.version !== version && !(floor && isBelow(i.version, floor)))
      .sort((a, b) => b.lastUsed - a.lastUsed)[0];
    if (refusal && !cancelled && input.source === "server" && fallback) {
      io.warn(
        `WARNING: client tools ${refusalSummary(refusal)} are refused on this machine: running v${fallback.version} instead (${retryAdvice(version)})`,
      );
      return { state, runVersion: fallback.version };
    }
    if (cancelled || (input.source === "server" && fallback)) {
      io.warn("WARNING: Client tools failed to update, some functionality may be broken.");
      if (!cancelled) io.warn(`upkeep: ${(e as Error).message}`);
      if (fallback) return { state, runVersion: fallback.version };
      throw new UpkeepError("E_CANCELLED", "client tools update cancelled and no version is installed", {
        exitCode: 130,
      });
    }
    if (e instanceof UpkeepError && e.code === "E_NOT_IN_MANIFEST" && input.source in NOT_IN_MANIFEST_HINTS) {
      throw new UpkeepError("E_NOT_FOUND", `client tools v${version} do not exist in the release manifest`, {
        cause: e,
        hint: NOT_IN_MANIFEST_HINTS[input.source as keyof typeof NOT_IN_MANIFEST_HINTS],
      });
    }
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    lock.release();
  }
}

/** `version`'s artifact `name` in the manifest, or undefined (the installer then says why it cannot install). */
function listedArtifact(
  m: Manifest,
  version: string,
  name: string,
): { name: string; sha256: string } | undefined {
  const a = m.releases.find((r) => r.version === version)?.artifacts.find((x) => x.name === name);
  return a ? { name, sha256: a.sha256 } : undefined;
}

/**
 * A refused release, as the error of this run: the installer's verdict (its code, so callers branch on it as
 * on the first refusal) and what to do, by where the version came from.
 */
function refusedError(r: RefusedRelease, from: InstallToolsInput["source"], cause?: unknown): UpkeepError {
  const what =
    from === "pin"
      ? `pin another version or run \`upkeep tools unpin\`; ${retryAdvice(r.version)}`
      : from === "env"
        ? `set UPKEEP_TOOLS_VERSION to another version; ${retryAdvice(r.version)}`
        : `ask the server's operator for a fixed release; ${retryAdvice(r.version)}`;
  return new UpkeepError(
    r.code as UpkeepError["code"],
    `client tools v${r.version} are refused on this machine: ${r.reason}`,
    {
      ...(cause === undefined ? {} : { cause }),
      hint: `${r.artifact} (sha256 ${r.sha256.slice(0, 16)}...) is not downloaded again unless re-published with other bytes: ${what}`,
    },
  );
}

/**
 * Writes a change to this run's own fields of tools.json (under its lock) when the file is still about the same
 * manifest (product and base URL); best effort: a read-only tools dir keeps the change in this run only.
 */
async function saveOwn(
  dir: string,
  state: ToolsState,
  mutate: (s: ToolsState) => ToolsState,
): Promise<ToolsState> {
  const same = (s: ToolsState) => s.product === state.product && s.baseUrl === state.baseUrl;
  try {
    const next = await updateToolsState(dir, (s) => (same(s) ? mutate(s) : s));
    return same(next) ? next : mutate(state);
  } catch {
    return mutate(state);
  }
}

/**
 * Records a verified manifest in tools.json: its serial and (when it is the newest on record) its floor, then
 * removes the installed versions below the floor on record (under the install lock). Only these fields are
 * this writer's: a login or pin meanwhile is kept, and so is a higher serial on disk; a login to another
 * product or base URL meanwhile is another manifest, left alone. The write is best effort (a read-only tools
 * dir): the state answered carries the record either way, so this run decides with it.
 */
async function recordManifest(dir: string, state: ToolsState, m: VerifiedManifest): Promise<ToolsState> {
  const serial = m.serial;
  const floor = m.manifest.floor;
  const sameManifest = (s: ToolsState) => s.product === state.product && s.baseUrl === state.baseUrl;
  // Refusals of versions the manifest no longer lists go: they can never be chosen from it again.
  const listed = m.manifest.releases.map((r) => r.version);
  const next = await updateToolsState(dir, (s) =>
    sameManifest(s) ? withRefusalsListed(withManifest(s, serial, floor), listed) : s,
  ).catch(() =>
    withRefusalsListed(withManifest(state, Math.max(serial, state.lastSerial ?? serial), floor), listed),
  );
  if (!sameManifest(next)) return withRefusalsListed(withManifest(state, serial, floor), listed);
  if (next.floor) removeBelowFloor(dir, next.floor);
  return next;
}

/** The server names a version below the floor of the verified manifest: never installed, never run. */
function serverBelowFloor(version: string, floor: string): UpkeepError {
  return new UpkeepError(
    "E_BELOW_FLOOR",
    `the server names client tools v${version}, below the floor v${floor} of the signed release manifest`,
    {
      hint: "ask the server's operator to fix the tools target version, or pin a version with `upkeep tools pin`",
    },
  );
}

/** The serial and, from a manifest at least as new as the one on record, its floor. */
function withManifest(s: ToolsState, serial: number, floor: string | null): ToolsState {
  const next = { ...s, lastSerial: serial };
  if (s.lastSerial === undefined || serial >= s.lastSerial) {
    if (floor) next.floor = floor;
    else delete next.floor;
  }
  return next;
}

/**
 * Removes installed versions below the manifest's floor (under the install lock; each a rename first). The
 * version just installed is at or above it (the installer refuses one below).
 */
export function removeBelowFloor(dir: string, floor: string): string[] {
  const removed: string[] = [];
  for (const i of listInstalledTools(dir)) {
    if (!isBelow(i.version, floor)) continue;
    try {
      if (removeVersionDir(dir, i.version)) removed.push(i.version);
    } catch {
      // Best effort: chooseVersion refuses a server-named version below the floor anyway.
    }
  }
  return removed;
}

/** What to do about a version missing from the release manifest, by where the version came from. */
const NOT_IN_MANIFEST_HINTS = {
  pin: "pick another version with `upkeep tools pin`, or `upkeep tools unpin`",
  env: "fix UPKEEP_TOOLS_VERSION",
  update:
    "the server names a version that is not published: ask its operator to publish it or to fix the tools target version",
  server:
    "the server names a version that is not published: ask its operator to publish it or to fix the tools target version",
} as const;

/**
 * Keeps at most MAX_KEPT_VERSIONS versions, least recently used removed first, never `inUse`. Called under
 * the install lock; each removal is a rename first (remove_version.ts).
 */
export function cleanupOld(dir: string, inUse: string): string[] {
  const used = new Map(listInstalledTools(dir).map((i) => [i.version, i.lastUsed]));
  const remove = versionsToRemove(used, inUse, MAX_KEPT_VERSIONS);
  for (const v of remove) {
    try {
      removeVersionDir(dir, v);
    } catch {
      // Cleanup is best effort: the install itself succeeded.
    }
  }
  return remove;
}

/** tools.json as saved now when it is about the same manifest (product, base URL), else undefined. */
function freshState(dir: string, state: ToolsState): ToolsState | undefined {
  try {
    const now = readToolsState(dir).state;
    return now.product === state.product && now.baseUrl === state.baseUrl ? now : undefined;
  } catch {
    return undefined;
  }
}

/** The serial saved in tools.json now, or undefined when it cannot be read. */
function freshSerial(dir: string): number | undefined {
  try {
    return readToolsState(dir).state.lastSerial;
  } catch {
    return undefined;
  }
}

function maxSerial(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
