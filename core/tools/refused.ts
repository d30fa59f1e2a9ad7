import { DEFAULT_CACHE_TTL_MS, type RefusedRelease, type ToolsState } from "./types.ts";

/**
 * Releases this machine refused (DESIGN §7, issue 10.8): the installer judged the bytes of a release that
 * verified (E_UNSAFE_ARCHIVE, E_MALFORMED), and the same bytes get the same verdict at every try, so they are
 * never downloaded again. Remembered by version AND the artifact's sha256: a release re-published with other
 * bytes is tried again. Pure; tools.json holds the list (`refused`).
 */

/** How long a refusal is trusted without asking the mirror whether the release changed (as the server's answer). */
export const REFUSAL_RECHECK_MS = DEFAULT_CACHE_TTL_MS;
/** At most this many refusals are kept (the newest): tools.json stays small whatever a manifest lists. */
export const MAX_REFUSED = 16;
/** A reason longer than this is cut (it is printed on every run of a tool). */
export const MAX_REASON_CHARS = 400;

/** The refusal of `version`'s artifact `artifact` on record, if any. */
export function findRefusal(
  state: ToolsState,
  version: string,
  artifact: string,
): RefusedRelease | undefined {
  return state.refused?.find((r) => r.version === version && r.artifact === artifact);
}

/** The refusal was checked against the manifest recently: it is trusted without the network. */
export function isFreshRefusal(r: RefusedRelease, now: number): boolean {
  return now - r.checkedAt >= 0 && now - r.checkedAt < REFUSAL_RECHECK_MS;
}

/** `state` with `r` recorded (replacing any refusal of the same version and artifact), newest kept. */
export function withRefusal(state: ToolsState, r: RefusedRelease): ToolsState {
  const reason = r.reason.length > MAX_REASON_CHARS ? `${r.reason.slice(0, MAX_REASON_CHARS)}...` : r.reason;
  const others = (state.refused ?? []).filter((x) => !(x.version === r.version && x.artifact === r.artifact));
  const refused = [...others, { ...r, reason }].sort((a, b) => a.refusedAt - b.refusedAt).slice(-MAX_REFUSED);
  return { ...state, refused };
}

/** `state` without the refusals of `version` (any artifact), or of every version when `version` is undefined. */
export function withoutRefusal(state: ToolsState, version?: string): ToolsState {
  const next = { ...state };
  const refused = version === undefined ? [] : (state.refused ?? []).filter((r) => r.version !== version);
  if (refused.length > 0) next.refused = refused;
  else delete next.refused;
  return next;
}

/** The refusal `r`, seen listed again with the same bytes at `now`: trusted for another while. */
export function withRefusalChecked(state: ToolsState, r: RefusedRelease, now: number): ToolsState {
  if (!findRefusal(state, r.version, r.artifact)) return state;
  return {
    ...state,
    refused: (state.refused ?? []).map((x) =>
      x.version === r.version && x.artifact === r.artifact ? { ...x, checkedAt: now } : x,
    ),
  };
}

/** Only the refusals of versions a manifest still lists (the others can never be chosen again from it). */
export function withRefusalsListed(state: ToolsState, listed: readonly string[]): ToolsState {
  if (!state.refused) return state;
  const keep = state.refused.filter((r) => listed.includes(r.version));
  if (keep.length === state.refused.length) return state;
  const next = { ...state };
  if (keep.length > 0) next.refused = keep;
  else delete next.refused;
  return next;
}

/** How to try refused bytes again anyway: the agent's `pin VERSION forces it`, for the tools. */
export function retryAdvice(version: string): string {
  return `\`upkeep tools pin ${version}\` forces a retry`;
}

/** One line about a refusal, for warnings: `v7.1.0 (E_MALFORMED: the release has ...)`. */
export function refusalSummary(r: RefusedRelease): string {
  return `v${r.version} (${r.code}: ${r.reason})`;
}
