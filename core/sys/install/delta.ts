/**
 * Delta downloads in the installer (issue 18): when the manifest lists a patch to the artifact from a version
 * installed here, with the exact bytes this host verified for it, the patch is downloaded instead of the
 * artifact and the artifact rebuilt from the kept copy (KEPT_ARTIFACT in the version folder, written by the
 * install that verified it). The rebuilt file becomes the `.part` only once its size and sha256 are the
 * manifest's for the full artifact; then the installer verifies it (signature included) and extracts it like
 * a download. Anything wrong (no usable base, a base changed on disk, a patch with other bytes than listed,
 * a patch that does not apply, a rebuild that is not the artifact, a rebuild slower than the full download
 * would be at the slowest rate allowed) returns undefined, said once through `log`: the caller downloads the
 * full artifact in the same pass. Only the caller's cancel (E_CANCELLED) goes through.
 *
 * Files (all `.download-*.part`: swept after a day like any partial download, never taken for a version):
 *   .download-<patch name>.part       the patch being downloaded (resumable), removed at the end
 *   .download-<artifact>.rebuild.part the artifact being rebuilt, renamed to the artifact's `.part` when right
 * Fault points `install:<step>` (DELTA_STEPS) for the crash tests.
 */
import { lstatSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Base, choosePatch, type ListedPatch } from "../../delta/patch.ts";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { PART_PREFIX, PART_SUFFIX, partFileName, sortVersionDirNames } from "../../install/layout.ts";
import { joinUrl } from "../../install/url.ts";
import type { ManifestArtifact } from "../../trust/manifest.ts";
import { artifactDeadlineMs } from "../bounded_http.ts";
import { applyPatch } from "../delta/apply.ts";
import { faultPoint } from "../fault.ts";
import { digestFile, hashFile } from "../hash.ts";
import { readMarker } from "./dirs.ts";
import { type Downloaded, downloadArtifact } from "./download.ts";
import { remove } from "./stage.ts";

/** The verified artifact an install keeps in its version folder: the base of a later patch. */
export const KEPT_ARTIFACT = ".upkeep-artifact";

export const DELTA_STEPS = ["patch-downloaded", "mid-rebuild", "rebuilt"] as const;
export type DeltaStep = (typeof DELTA_STEPS)[number];

/** What an install fetched: `delta` (a patch) or `full`; `bytes` over the network, `full_bytes` the artifact's. */
export interface DownloadFacts {
  kind: "delta" | "full";
  bytes: number;
  full_bytes: number;
  /** The version the patch started from (delta only). */
  from?: string;
}

export interface DeltaInput {
  versionsDir: string;
  baseUrl: string;
  insecure: boolean;
  /** The artifact to install, as the verified manifest lists it, and its file name. */
  artifact: ManifestArtifact;
  name: string;
  /** The artifact's `.part` (the rebuilt file is renamed to it). */
  part: string;
  /** Version folder names in order of preference as bases (the active one first). */
  prefer?: readonly string[];
  /** The bases to patch from, instead of the version folders' kept artifacts (the self-update's executable). */
  bases?: readonly (Base & { file: string })[];
  signal?: AbortSignal;
  idleMs?: number;
  log?: (line: string) => void;
  onStep?: (step: DeltaStep) => void;
}

function step(name: DeltaStep, i: DeltaInput): void {
  faultPoint(`install:${name}`);
  i.onStep?.(name);
}

/** Complete version folders holding a kept artifact, the preferred ones first, then the newest. */
export function installedBases(
  versionsDir: string,
  prefer: readonly string[] = [],
): (Base & { file: string })[] {
  let names: string[];
  try {
    names = readdirSync(versionsDir);
  } catch {
    return [];
  }
  const dirs = names.filter((n) => !n.startsWith("."));
  const ordered = [
    ...prefer.filter((p) => dirs.includes(p)),
    ...sortVersionDirNames(dirs.filter((d) => !prefer.includes(d)).map((name) => ({ name })))
      .map((d) => d.name)
      .reverse(),
  ];
  const out: (Base & { file: string })[] = [];
  for (const name of ordered) {
    const dir = join(versionsDir, name);
    const marker = readMarker(dir);
    const file = join(dir, KEPT_ARTIFACT);
    if (!marker) continue;
    try {
      if (!lstatSync(file).isFile()) continue;
    } catch {
      continue;
    }
    out.push({ version: marker.version, sha256: marker.sha256, file });
  }
  return out;
}

/**
 * The artifact rebuilt from a patch into `i.part` (its digests, as a download returns them), or undefined:
 * download the full artifact.
 */
export async function tryDelta(
  i: DeltaInput,
): Promise<{ downloaded: Downloaded; facts: DownloadFacts } | undefined> {
  const bases = i.bases ?? installedBases(i.versionsDir, i.prefer);
  const chosen = choosePatch(i.artifact.patches, bases, i.artifact.size);
  if (!chosen) return undefined;
  const { patch } = chosen;
  const base = bases.find((b) => b.version === chosen.base.version && b.sha256 === chosen.base.sha256);
  if (!base) return undefined;
  const patchPart = join(i.versionsDir, partFileName(patch.name));
  const rebuilt = join(i.versionsDir, `${PART_PREFIX}${i.name}.rebuild${PART_SUFFIX}`);
  // The base must still be the bytes verified at its install: checked before a byte of the patch is fetched
  // (and again as the patch is applied, on the bytes read then).
  const now = await hashFile(base.file, ["sha256"]).catch(() => undefined);
  if (now?.sha256 !== base.sha256) {
    i.log?.(
      `the kept artifact of ${base.version} (${base.file}) changed on disk since it was verified: no patch from it; downloading the full ${i.name}`,
    );
    return undefined;
  }
  // The rebuild may take as long as the full download would at the slowest rate allowed, no longer.
  const deadlineMs = artifactDeadlineMs(i.artifact.size);
  const deadline = AbortSignal.timeout(deadlineMs);
  try {
    const fetched = await fetchPatch(i, patch, patchPart);
    step("patch-downloaded", i);
    await applyPatch({
      patch: patchPart,
      base: base.file,
      out: rebuilt,
      baseSha256: patch.base_sha256,
      signal: i.signal ? AbortSignal.any([i.signal, deadline]) : deadline,
      onFirstChunk: () => step("mid-rebuild", i),
    });
    const d = await digestFile(rebuilt);
    if (d.size !== i.artifact.size || d.sha256 !== i.artifact.sha256)
      throw new UpkeepError(
        "E_CHECKSUM",
        `the rebuilt ${i.name} has sha256 ${d.sha256} (${d.size} bytes), not the manifest's ${i.artifact.sha256}`,
      );
    remove(patchPart); // first: a kill after the rename leaves nothing of the patch behind
    renameSync(rebuilt, i.part);
    step("rebuilt", i);
    const st = statSync(i.part);
    return {
      downloaded: { ...d, ino: st.ino, mtimeMs: st.mtimeMs, requests: [] },
      facts: { kind: "delta", bytes: fetched, full_bytes: i.artifact.size, from: base.version },
    };
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_CANCELLED" && i.signal?.aborted) throw e;
    const why = deadline.aborted
      ? `the rebuild took longer than ${Math.round(deadlineMs / 1000)} s`
      : `${isUpkeepError(e) ? `${e.code}: ` : ""}${e instanceof Error ? e.message : String(e)}`;
    i.log?.(`patch ${patch.name} from ${base.version} not used (${why}); downloading the full ${i.name}`);
    return undefined;
  } finally {
    remove(patchPart);
    remove(rebuilt); // gone already when it became the .part
  }
}

/** What a run killed during a patch may leave for `name` (the full download path clears it). */
export function removeDeltaLeftovers(
  versionsDir: string,
  name: string,
  patches: readonly ListedPatch[] = [],
): void {
  for (const p of patches) remove(join(versionsDir, partFileName(p.name)));
  remove(join(versionsDir, `${PART_PREFIX}${name}.rebuild${PART_SUFFIX}`));
}

/** The listed patch, downloaded (resumable) and checked against the manifest's sha256; the bytes fetched. */
async function fetchPatch(i: DeltaInput, patch: ListedPatch, part: string): Promise<number> {
  let had = 0;
  try {
    const st = lstatSync(part);
    had = st.isFile() && st.size <= patch.size ? st.size : 0;
  } catch {
    had = 0;
  }
  const d = await downloadArtifact({
    url: joinUrl(i.baseUrl, patch.name),
    path: part,
    size: patch.size,
    insecure: i.insecure,
    ...(i.signal ? { signal: i.signal } : {}),
    ...(i.idleMs === undefined ? {} : { idleMs: i.idleMs }),
  });
  if (d.sha256 !== patch.sha256)
    throw new UpkeepError(
      "E_CHECKSUM",
      `${patch.name} has sha256 ${d.sha256}, not the manifest's ${patch.sha256}`,
    );
  return d.size - had;
}
