import { UpkeepError } from "../errors.ts";
import { compile, dayOf, openingOn, toMs, weekdayOfDay } from "./_time.ts";
import type { Window } from "./types.ts";

/**
 * The next opening of the window STRICTLY after `now`: the first `startHour`:00 UTC on a listed weekday
 * that is later than `now`. When `now` is exactly an opening instant, the answer is the following opening
 * (use {@linkcode isInWindow} / `currentWindow` to ask about the occurrence `now` is in). Always within
 * 8 days, since a valid window lists at least one day.
 */
export function nextWindowOpen(window: Window, now: Date | number): Date {
  const w = compile(window);
  const ms = toMs(now);
  const today = dayOf(ms);
  for (let k = 0; k <= 7; k++) {
    const day = today + k;
    if (!w.open[weekdayOfDay(day)]) continue;
    const start = openingOn(w, day);
    if (start > ms) return new Date(start);
  }
  // Unreachable for a compiled window (at least one open weekday); kept for the type checker.
  throw new UpkeepError("E_INTERNAL", "nextWindowOpen: no opening within 8 days");
}
