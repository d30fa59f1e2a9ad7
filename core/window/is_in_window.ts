import { compile, spanAt, toMs } from "./_time.ts";
import type { Window } from "./types.ts";

/**
 * Whether `now` falls in an occurrence of the window: `[opening, opening + durationMinutes)`, where an
 * opening is `startHour`:00 UTC on a listed weekday. A window that opens late on Monday and runs past
 * midnight is still open early on Tuesday even when Tuesday is not listed.
 *
 * Throws `E_BAD_RESOURCE` on an invalid window and `E_INTERNAL` on an invalid `now`.
 */
export function isInWindow(window: Window, now: Date | number): boolean {
  return spanAt(compile(window), toMs(now)) !== undefined;
}
