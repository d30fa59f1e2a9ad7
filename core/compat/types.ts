import type { SemVer } from "../version/types.ts";

/**
 * The compatibility policy (DESIGN §1, seeds 003/004). Defaults: {@link DEFAULT_COMPAT_POLICY}.
 *
 * - `modernMajor`: first major of the modern line (Teleport: 5). From it on, every minor and patch of one
 *   major is compatible, and majors step by `majorSkew`.
 * - `majorSkew`: how many majors a client (or agent) may be behind its server on the modern line.
 * - `legacyMinorSkew`: how many minors a client may be behind its server on the legacy line (major below
 *   `modernMajor`).
 */
export type CompatPolicy = {
  modernMajor: number;
  majorSkew: number;
  legacyMinorSkew: number;
};

/** The answer of a compatibility check: `reason` is one sentence an operator can act on. */
export type CompatResult = {
  compatible: boolean;
  reason: string;
};

/** The agent version to serve after the server cap (seed 001), and why. */
export type AgentVersionDecision = {
  version: SemVer;
  /** True when `version` is not the requested target (it was capped at, or raised to, the server). */
  capped: boolean;
  /** How it was changed: `capped` (the target was newer than the server), `raised` (too old), or `none`. */
  direction: "none" | "capped" | "raised";
  reason: string;
};

/** An upgrade plan as data: the hops in order, the last one the target; empty when already there. */
export type Plan = {
  steps: SemVer[];
};
