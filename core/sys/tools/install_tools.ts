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
} from "../../tools/refused.ts";
import type { RefusedRelease, ToolsState, VersionSource } from "../../tools/types.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import type { Manifest } from "../../trust/manifest.ts";
import {
  currentPlatform,
  type DownloadFacts,
  fetchVerifiedManifest,
  type InstallSource,
  installVersion,
  type VerifiedManifest,
} from "../install/mod.ts";
import { loadTrustedKeys } from "../keys.ts";
import { acquireLock } from "../lock.ts";
import type { ExecIo } from "./exec_tool.ts";
import { cleanupOld, freshSerial, freshState, maxSerial, recordManifest, saveOwn } from "./install_record.ts";
import { listInstalledTools } from "./installed.ts";

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

/**
 * This run's facts, as the install goes: `state` as last written; the artifact as the verified manifest lists
 * it, and whether the installer got as far as judging its bytes (`judged`: a refusal before that, e.g. a
 * manifest for another product, says nothing about the release); the refusal this run ends with
 * (remembered, or made now: a one-line warning when another version runs); the refusal on record for these
 * bytes (`known`), until a verified manifest lists other bytes for the version.
 */
interface InstallRun {
  state: ToolsState;
  tty: boolean;
  listed?: { name: string; sha256: string };
  judged: boolean;
  refusal?: RefusedRelease;
  known?: RefusedRelease;
  /** What the installer fetched (a patch or the full artifact). */
  download?: DownloadFacts;
}

export async function installToolsVersion(
  input: InstallToolsInput,
): Promise<{ state: ToolsState; runVersion: string; download?: DownloadFacts }> {
  const { dir, version, io } = input;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(`${dir}/.install.lock`, {
    waitMs: 15 * 60_000,
    what: "upkeep tools install",
  });
  const run: InstallRun = { state: input.state, tty: io.tty(), judged: false };
  // Ctrl-C (or SIGTERM) cancels the download cleanly: the installer removes its partial files.
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    // Another invocation may have installed it while this one waited for the lock.
    if (listInstalledTools(dir).some((i) => i.version === version))
      return { state: run.state, runVersion: version };
    await fetchAndInstall(input, run, controller.signal);
    cleanupOld(dir, version);
    if (!run.tty) io.warn(`upkeep: client tools v${version} installed`);
    return { state: run.state, runVersion: version, ...(run.download ? { download: run.download } : {}) };
  } catch (caught) {
    return await afterFailure(input, run, caught, controller.signal.aborted);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    lock.release();
  }
}

/**
 * The verified manifest first (recorded whatever becomes of the install), the refusal on record decided
 * against it, then the download, verification and unpacking, with a progress bar on a terminal.
 */
async function fetchAndInstall(
  input: InstallToolsInput,
  run: InstallRun,
  signal: AbortSignal,
): Promise<void> {
  const { dir, version, io } = input;
  const src = toolsSource(run.state, input.env);
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
  run.known = findRefusal(freshState(dir, run.state) ?? run.state, version, name);
  if (run.known && input.source !== "update" && isFreshRefusal(run.known, io.now().getTime())) {
    run.refusal = run.known;
    throw refusedError(run.known, input.source);
  }
  const source = {
    baseUrl: src.baseUrl,
    product: src.product,
    trustedKeys: await loadTrustedKeys(src.keys),
    insecure: run.state.insecure === true,
  };
  const announce = () => {
    if (run.tty) io.warn(`Updating client tools to v${version}.`);
    else io.warn(`upkeep: installing client tools v${version} from ${src.baseUrl}`);
  };
  if (!run.known) announce();
  // The serial as it is now: another install may have raised it while this one waited for the lock.
  const lastSerial = maxSerial(run.state.lastSerial, freshSerial(dir));
  const manifest: VerifiedManifest = await fetchVerifiedManifest(source, {
    now: io.now(),
    ...(lastSerial !== undefined ? { lastSerial } : {}),
    workDir: dir,
  });
  await judgeByManifest(input, run, manifest, name, announce);
  await installWithProgress(input, run, { source, manifest, platform, signal });
}

/**
 * A manifest that verified is a fact about the releases whatever becomes of this install (the version may be
 * below its floor, missing from it, or fail to download): its serial and floor are recorded, and the versions
 * below its floor removed, before anything else is decided. From here on it decides about the refusal on
 * record: the same bytes, the same verdict; other bytes (or no longer listed), tried again.
 */
async function judgeByManifest(
  input: InstallToolsInput,
  run: InstallRun,
  manifest: VerifiedManifest,
  name: string,
  announce: () => void,
): Promise<void> {
  const { dir, version, io } = input;
  run.state = await recordManifest(dir, run.state, manifest);
  const onRecord = run.known;
  run.known = undefined;
  const floor = run.state.floor;
  if (floor && (input.source === "server" || input.source === "update") && isBelow(version, floor))
    throw serverBelowFloor(version, floor);
  run.listed = listedArtifact(manifest.manifest, version, name);
  if (onRecord) {
    const now = io.now().getTime();
    if (run.listed?.sha256 === onRecord.sha256) {
      // The same bytes: the same verdict. Trusted for another hour without the network.
      run.state = await saveOwn(dir, run.state, (s) => withRefusalChecked(s, onRecord, now));
      run.refusal = onRecord;
      throw refusedError(onRecord, input.source);
    }
    // Re-published with other bytes (or no longer listed, which the installer says): tried again.
    run.state = await saveOwn(dir, run.state, (s) => withoutRefusal(s, version));
    announce();
  }
}

/** The installer's work, with a progress bar on a terminal (redrawn at most every 100 ms). */
async function installWithProgress(
  input: InstallToolsInput,
  run: InstallRun,
  w: {
    source: InstallSource;
    manifest: VerifiedManifest;
    platform: ReturnType<typeof currentPlatform>;
    signal: AbortSignal;
  },
): Promise<void> {
  let last = 0;
  const t0 = performance.now();
  const onProgress = run.tty
    ? (p: { received: number; total: number }) => {
        const t = performance.now();
        if (t - last < 100 && p.received < p.total) return;
        last = t;
        const rate = p.received / Math.max(0.001, (t - t0) / 1000);
        writeSync(2, `\r${progressBar(p.received, p.total, rate)}`);
      }
    : undefined;
  try {
    const r = await installVersion({
      log: (line) => input.io.warn(`upkeep: ${line}`),
      source: w.source,
      manifest: w.manifest,
      version: input.version,
      platform: w.platform,
      versionsDir: input.dir,
      signal: w.signal,
      onStep: (s) => {
        if (s === "verified") run.judged = true;
      },
      ...(onProgress ? { onProgress } : {}),
    });
    if (r.download) run.download = r.download;
  } finally {
    if (run.tty) writeSync(2, "\n");
  }
}

/**
 * After a failed or cancelled install: a verdict on bytes that verified is remembered; the refusal on record
 * stands when the mirror could not say; another installed version runs when the server chose this one (never
 * one below the floor on record); else the error, with what to do.
 */
async function afterFailure(
  input: InstallToolsInput,
  run: InstallRun,
  caught: unknown,
  cancelled: boolean,
): Promise<{ state: ToolsState; runVersion: string }> {
  const { dir, version, io } = input;
  let e = caught;
  if (!run.refusal && run.known && !cancelled && input.source !== "update") {
    // The mirror could not say whether the release changed (unreachable, a manifest that does not verify):
    // the refusal on record stands. `tools update` reports the failure itself.
    run.refusal = run.known;
    e = refusedError(run.known, input.source, e);
  }
  const listed = run.listed;
  if (run.judged && listed && !cancelled && isUpkeepError(e) && skipsRelease(e.code)) {
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
    run.state = await saveOwn(dir, run.state, (s) => withRefusal(s, made));
    run.refusal = findRefusal(run.state, version, listed.name) ?? made;
    e = refusedError(run.refusal, input.source, e);
  }
  // Never one below the floor on record (its removal is best effort: a read-only tools dir keeps it).
  const floor = run.state.floor;
  const fallback = listInstalledTools(dir)
    .filter((i) => i.version !== version && !(floor && isBelow(i.version, floor)))
    .sort((a, b) => b.lastUsed - a.lastUsed)[0];
  if (run.refusal && !cancelled && input.source === "server" && fallback) {
    io.warn(
      `WARNING: client tools ${refusalSummary(run.refusal)} are refused on this machine: running v${fallback.version} instead (${retryAdvice(version)})`,
    );
    return { state: run.state, runVersion: fallback.version };
  }
  if (cancelled || (input.source === "server" && fallback)) {
    io.warn("WARNING: Client tools failed to update, some functionality may be broken.");
    if (!cancelled) io.warn(`upkeep: ${(e as Error).message}`);
    if (fallback) return { state: run.state, runVersion: fallback.version };
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

/** What to do about a version missing from the release manifest, by where the version came from. */
const NOT_IN_MANIFEST_HINTS = {
  pin: "pick another version with `upkeep tools pin`, or `upkeep tools unpin`",
  env: "fix UPKEEP_TOOLS_VERSION",
  update:
    "the server names a version that is not published: ask its operator to publish it or to fix the tools target version",
  server:
    "the server names a version that is not published: ask its operator to publish it or to fix the tools target version",
} as const;
