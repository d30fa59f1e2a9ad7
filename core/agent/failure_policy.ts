/**
 * What a failed pass means, by its error code (DESIGN §6): is it a verdict about the release (reported to the
 * server as a failed version, which counts against the rollout), is the version skipped from now on, and is
 * it tried again at the next pass? And the two remaps that keep local problems from ever reading as a
 * verdict: the release manifest's, and this host's own configuration's. Pure.
 */
import { type ErrorCode, isUpkeepError, UpkeepError } from "../errors.ts";

/**
 * Error codes that are a verdict about the release itself. Everything else (network, server, disk, locks, the
 * agent stopping, a mirror that has not synced the release or its manifest yet, an expired or older
 * manifest) says nothing about the release: the pass is tried again later and the version is not skipped.
 */
const RELEASE_VERDICTS: ReadonlySet<string> = new Set([
  "E_CHECKSUM",
  "E_SIGNATURE",
  "E_SIZE",
  "E_UNSAFE_ARCHIVE",
  "E_MALFORMED",
  "E_BELOW_FLOOR",
  "E_SMOKE",
  "E_UNHEALTHY",
]);

export function isReleaseVerdict(code: string): boolean {
  return RELEASE_VERDICTS.has(code);
}

/**
 * Release verdicts that also put the version on the skip list (never downloaded or tried again until pinned),
 * because the same signed bytes get the same verdict at every try: the smoke test failed here, or the
 * installer refused the archive that verified (E_UNSAFE_ARCHIVE; E_MALFORMED: not gzip, a broken tar, a `bin`
 * that is not a folder). Not skipped: E_CHECKSUM, E_SIZE, E_SIGNATURE (bytes or a signature file that do
 * not match the signed manifest are the mirror's, e.g. mid-sync, not the release's: tried again),
 * E_BELOW_FLOOR (nothing is downloaded; the floor may move). E_UNHEALTHY is skipped by the rollback itself.
 */
const SKIP_VERDICTS: ReadonlySet<string> = new Set(["E_SMOKE", "E_UNSAFE_ARCHIVE", "E_MALFORMED"]);

export function skipsRelease(code: string): boolean {
  return SKIP_VERDICTS.has(code);
}

export interface FailurePolicy {
  /** Put the version on the skip list: never downloaded or tried again automatically (pin forces it). */
  skip: boolean;
  /** Report the version to the server as failed (`failed_version`, counted against the rollout). */
  reportFailed: boolean;
  /** The next pass tries again (after the switch: its recovery finishes or undoes the update). */
  retry: boolean;
}

/**
 * What a pass that threw means. After the switch (the rollback itself failed, e.g. update.yaml could not be
 * written) nothing is decided: the intent stays in update.yaml and the next command's recovery settles it.
 * Before the switch nothing changed: only a release verdict is reported, and only the verdicts that the
 * same bytes would get again skip the version. `code` undefined: not an UpkeepError (a bug, or an I/O
 * error nobody named), never held against the release.
 */
export function failurePolicy(code: ErrorCode | undefined, afterSwitch: boolean): FailurePolicy {
  if (afterSwitch || code === undefined || !isReleaseVerdict(code))
    return { skip: false, reportFailed: false, retry: true };
  const skip = skipsRelease(code);
  return { skip, reportFailed: true, retry: !skip };
}

/**
 * The release manifest could not be fetched or verified. Whatever the code (a manifest uploaded before its
 * signature, a mirror mid-sync, a bad publish), it says nothing about the release the server names: never a
 * verdict reported as a failed version, tried again at the next pass. The original code stays in the text.
 */
export function manifestProblem(e: unknown): unknown {
  if (!isUpkeepError(e) || !isReleaseVerdict(e.code)) return e;
  return new UpkeepError(
    "E_MANIFEST",
    `release manifest: ${e.message} (${e.code}); tried again at the next pass`,
    { cause: e, ...(e.hint ? { hint: e.hint } : {}) },
  );
}

/**
 * This host's own configuration (artifact template, trusted keys in update.yaml) is unusable: whatever its
 * code (E_MALFORMED...), it says nothing about the release, so it becomes E_HOST_CONFIG, never reported.
 */
export function hostConfigProblem(e: unknown, stateFile: string): UpkeepError {
  return new UpkeepError(
    "E_HOST_CONFIG",
    `this host's configuration: ${e instanceof Error ? e.message : String(e)}`,
    { cause: e, hint: `check ${stateFile} (trusted keys, product)` },
  );
}
