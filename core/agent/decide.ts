/**
 * What one update pass does, decided from the server's answer and local facts (DESIGN §6, seed 001). Pure.
 *
 * - disabled or pinned: nothing (an explicit `pin VERSION` is a forced target, not a server decision);
 * - a target in the skip list is never tried again automatically;
 * - otherwise update when the server says so (`agent_auto_update`: window, canary, critical), or at once,
 *   whatever the window, when the local daemon is unhealthy and the target differs from what runs (the
 *   backends' restart starts a stopped or failed daemon, so the new version does run and gets judged).
 */
import { compareVersions, sameVersion, tryParseVersion } from "../version/mod.ts";
import type { FindAnswer } from "../wire/parse_find.ts";
import type { AgentSpec, AgentStatus } from "./types.ts";

// The find answer is read by core/wire (one parser for agent and tools); re-exported for this folder's callers.
export { type FindAnswer, parseFindAnswer } from "../wire/parse_find.ts";

export interface DecideInput {
  spec: Pick<AgentSpec, "enabled" | "pinned">;
  status: Pick<AgentStatus, "active" | "skip"> & Partial<Pick<AgentStatus, "skipByOperator">>;
  find: FindAnswer;
  /** Health of the local daemon now: undefined when unknown (not running under this agent). */
  daemonHealthy: boolean | undefined;
}

export type Decision =
  | {
      update: true;
      target: string;
      reason: string;
      /** Skip the jitter: a first install, an unhealthy daemon, or a rollback (group rolled back, or a target below the active version). */
      urgent: boolean;
    }
  | { update: false; target: string; reason: string };

export function decidePass(input: DecideInput): Decision {
  const { spec, status, find } = input;
  const target = find.agentVersion;
  const no = (reason: string): Decision => ({ update: false, target, reason });
  if (target === "") return no(`the server names no version yet${find.reason ? ` (${find.reason})` : ""}`);
  if (!spec.enabled) return no("updates are disabled on this host (upkeep agent enable to re-enable)");
  if (spec.pinned) return no(`pinned to ${status.active || "the installed version"} (upkeep agent unpin)`);
  if (status.active !== "" && sameVersion(status.active, target)) return no(`up to date on ${target}`);
  if (isSkippedByOperator(status, target))
    return no(
      `${target} is skipped on this host by the operator (upkeep agent rollback left it; upkeep agent pin ${target} forces it)`,
    );
  if (status.skip.some((v) => sameVersion(v, target)))
    return no(`${target} failed on this host before and is skipped (upkeep agent pin ${target} forces it)`);
  if (find.serverVersion && greater(target, find.serverVersion))
    return no(`the server named ${target}, above its own version ${find.serverVersion}: refused`);
  if (status.active === "")
    return { update: true, target, reason: `first install of ${target}`, urgent: true };
  if (find.autoUpdate) {
    // Going back (the group was rolled back, or the server names a version below the active one) and
    // repairing an unhealthy daemon never wait for the jitter: the jitter spreads new releases, not retreats.
    const back = find.groupState === "rolledback" || greater(status.active, target);
    const why = back
      ? `the server says roll back to ${target}${find.groupState === "rolledback" ? " (the group was rolled back)" : ` (below the active ${status.active})`}`
      : `the server says update to ${target}${find.critical ? " (critical)" : ""}`;
    return {
      update: true,
      target,
      reason: `${why}${find.reason ? `: ${find.reason}` : ""}`,
      urgent: back || input.daemonHealthy === false,
    };
  }
  if (input.daemonHealthy === false)
    return {
      update: true,
      target,
      reason: `the daemon is unhealthy on ${status.active} and the server names ${target}: updating outside the window`,
      urgent: true,
    };
  return no(
    `${target} is available; waiting for the server to say when${find.reason ? ` (${find.reason})` : ""}`,
  );
}

/**
 * Puts `version` on the skip list (mutates `status`): as the operator's choice, or as a failure here (which
 * takes it off the operator's part: it failed for real).
 */
export function addSkip(
  status: Pick<AgentStatus, "skip" | "skipByOperator">,
  version: string,
  byOperator = false,
): void {
  if (!status.skip.some((v) => sameVersion(v, version))) status.skip.push(version);
  const others = status.skipByOperator.filter((v) => !sameVersion(v, version));
  status.skipByOperator = byOperator ? [...others, version] : others;
}

/** Takes `version` off the skip list (mutates `status`): it was installed and is healthy. */
export function removeSkip(status: Pick<AgentStatus, "skip" | "skipByOperator">, version: string): void {
  status.skip = status.skip.filter((v) => !sameVersion(v, version));
  status.skipByOperator = status.skipByOperator.filter((v) => !sameVersion(v, version));
}

/** `version` is skipped because an operator rolled back from it (not because it failed here). */
export function isSkippedByOperator(
  status: Pick<AgentStatus, "skip"> & Partial<Pick<AgentStatus, "skipByOperator">>,
  version: string,
): boolean {
  return (
    status.skip.some((v) => sameVersion(v, version)) &&
    (status.skipByOperator ?? []).some((v) => sameVersion(v, version))
  );
}

function greater(a: string, b: string): boolean {
  const x = tryParseVersion(a);
  const y = tryParseVersion(b);
  return x !== undefined && y !== undefined && compareVersions(x, y) > 0;
}

/** A random jitter in [0, max) ms from `random()` in [0, 1). */
export function jitterMs(maxSeconds: number, random: number): number {
  return Math.floor(Math.max(0, maxSeconds) * 1000 * Math.min(Math.max(random, 0), 0.999999));
}

/**
 * The artifact name the server suggested must be the one the local template makes (seed 002: the server
 * never chooses bytes). Placeholders `{os}`/`{arch}` are filled in first. Empty suggestion: fine.
 */
export function checkSuggestedArtifact(
  suggested: string,
  local: string,
  os: string,
  arch: string,
): string | undefined {
  if (suggested === "") return undefined;
  const filled = suggested.replaceAll("{os}", os).replaceAll("{arch}", arch);
  if (filled === local) return undefined;
  return `the server named artifact ${JSON.stringify(filled)}, but this host's template makes ${JSON.stringify(local)}: refused`;
}

// The failure rules moved to failure_policy.ts; kept importable from here for older importers.
export { isReleaseVerdict, skipsRelease } from "./failure_policy.ts";
