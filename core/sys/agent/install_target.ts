/**
 * Before the switch: the version a pass aims at, from this host's own configuration to a complete folder in
 * versions/ (the verified manifest, then the installer). Nothing here changes what runs.
 */
import { join } from "node:path";
import {
  checkSuggestedArtifact,
  type FindAnswer,
  hostConfigProblem,
  manifestProblem,
} from "../../agent/mod.ts";
import { UpkeepError } from "../../errors.ts";
import { type PublicKey, parsePublicKey } from "../../trust/minisign.ts";
import { formatArtifactName } from "../../trust/mod.ts";
import { faultPoint } from "../fault.ts";
import type { DownloadFacts, InstallSource, Platform, VerifiedManifest } from "../install/mod.ts";
import { currentTarget } from "./layout.ts";
import type { SettleContext } from "./settle.ts";

/** What installing works on: the Updater (its layout, state, installer, clock and signal). */
export type InstallContext = Pick<
  SettleContext,
  "layout" | "state" | "installer" | "dirName" | "now" | "signal" | "log"
> & { readonly platform: Platform };

/**
 * The folder of `target`, complete. Forced (no server answer) to a version verified and installed before
 * (rollback, pin): that folder, no network needed. Else the manifest is fetched and verified and the
 * installer downloads, verifies and extracts the version (or reuses its folder).
 */
export async function installTarget(
  u: InstallContext,
  target: string,
  answer: FindAnswer | undefined,
  onDownload?: (d: DownloadFacts) => void,
): Promise<string> {
  const source = installSource(u, target, answer);
  const installed = join(u.layout.versionsDir, u.dirName(target));
  if (answer === undefined && u.installer.isInstalled(installed)) return installed;
  const st = u.state;
  const signal = u.signal ? { signal: u.signal } : {};
  let manifest: VerifiedManifest;
  try {
    // Stopping the agent stops the fetch (it waited out the manifest's 30 s deadline).
    manifest = await u.installer.fetchManifest(source, {
      now: u.now(),
      lastSerial: st.status.manifestSerial,
      workDir: u.layout.workDir,
      ...signal,
    });
  } catch (e) {
    throw manifestProblem(e);
  }
  if (manifest.serial > st.status.manifestSerial) st.status.manifestSerial = manifest.serial;
  faultPoint("agent:after-manifest");
  const { dir, reused, download } = await u.installer.install({
    source,
    manifest,
    version: target,
    platform: u.platform,
    versionsDir: u.layout.versionsDir,
    // A re-published version is never installed over the folder the daemon runs from.
    inUse: [currentTarget(u.layout) ?? "", st.status.active ? u.dirName(st.status.active) : ""],
    log: (line) => u.log(line),
    ...signal,
  });
  if (download) onDownload?.(download);
  u.log(
    `${reused ? "already installed" : "installed"}: ${dir}${download ? ` (${download.kind === "delta" ? `patch from ${download.from}` : "full download"}: ${download.bytes} of ${download.full_bytes} bytes)` : ""}`,
  );
  faultPoint("agent:after-install");
  return dir;
}

/**
 * Where `target` comes from, by this host's own configuration (artifact template, trusted keys): a problem
 * there says nothing about the release (hostConfigProblem), nor does a server that disagrees with it.
 */
function installSource(u: InstallContext, target: string, answer: FindAnswer | undefined): InstallSource {
  const spec = u.state.spec;
  const platform = u.platform;
  let local: string;
  let trustedKeys: PublicKey[];
  try {
    local = formatArtifactName({ product: spec.product, version: target, ...platform });
    trustedKeys = spec.trustKeys.map((k) => parsePublicKey(k));
  } catch (e) {
    throw hostConfigProblem(e, u.layout.stateFile);
  }
  const bad = answer && checkSuggestedArtifact(answer.artifact, local, platform.os, platform.arch);
  // The server and this host disagree (configuration, not the release): tried again, not reported.
  if (bad) throw new UpkeepError("E_HOST_CONFIG", bad);
  return { baseUrl: spec.baseUrl, product: spec.product, trustedKeys, insecure: spec.insecure };
}
