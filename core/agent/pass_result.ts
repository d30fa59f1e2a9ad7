/** What one update pass did (`upkeep agent update --json` prints it as it is). Plain data; pure. */
import type { ErrorCode } from "../errors.ts";

/** `waiting`: the `agent run` loop waits out a jitter outside the pass, then runs a pass without it. */
export type PassOutcome =
  | "updated"
  | "unchanged"
  | "switched"
  | "rolledback"
  | "failed"
  | "error"
  | "waiting";

export interface PassResult {
  outcome: PassOutcome;
  /** Version running before the pass. */
  from: string;
  /** The version the pass aimed at (the server's target, or the forced one). */
  to: string;
  /** What happened, for a person; the code is never part of it (`code` carries it). */
  message: string;
  /** The error of a failed, rolled-back or erroring pass. */
  code?: ErrorCode;
  /** Health watch and rollback timings of a rolled-back update (ms). */
  detect_ms?: number;
  rollback_ms?: number;
  /** What the pass fetched: a patch (`delta`) or the whole artifact (`full`), bytes over the network. */
  download?: { kind: "delta" | "full"; bytes: number; full_bytes: number; from?: string };
}

/** The result as one line: `outcome: message (CODE)`. */
export function formatPassResult(r: PassResult, text: (s: string) => string = (s) => s): string {
  return `${r.outcome}: ${text(r.message)}${r.code ? ` (${r.code})` : ""}`;
}
