import type { CompatPolicy } from "./types.ts";

/** Teleport's rules: the modern line starts at 5, one major of skew, one legacy minor of skew. */
export const DEFAULT_COMPAT_POLICY: Readonly<CompatPolicy> = Object.freeze({
  modernMajor: 5,
  majorSkew: 1,
  legacyMinorSkew: 1,
});
