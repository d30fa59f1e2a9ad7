// Private helpers for window math. Not re-exported from mod.ts.
import { UpkeepError } from "../errors.ts";
import { tryParseWeekday } from "./parse_weekday.ts";
import { checkWindow } from "./parse_window.ts";
import { DEFAULT_WINDOW_MINUTES, WEEKDAYS, type Weekday, type Window } from "./types.ts";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** `now` as epoch milliseconds; throws on an invalid Date or a non-finite number. */
export function toMs(now: Date | number): number {
  const ms = typeof now === "number" ? now : now.getTime();
  if (!Number.isFinite(ms)) throw new UpkeepError("E_INTERNAL", `invalid instant: ${String(now)}`);
  return ms;
}

/** The window checked and reduced to what the math needs: 7 booleans (Sunday first), hour, minutes. */
export type CompiledWindow = { open: readonly boolean[]; startHour: number; durationMinutes: number };

export function compile(window: Window): CompiledWindow {
  const problems = checkWindow(window);
  if (problems.length > 0) throw new UpkeepError("E_BAD_RESOURCE", problems.join("; "));
  const open = [false, false, false, false, false, false, false];
  for (const raw of window.days) {
    const d = tryParseWeekday(raw);
    if (d === "*") open.fill(true);
    else open[WEEKDAYS.indexOf(d as Weekday)] = true;
  }
  return {
    open,
    startHour: window.startHour,
    durationMinutes: window.durationMinutes ?? DEFAULT_WINDOW_MINUTES,
  };
}

/** UTC day number (days since 1970-01-01) of an instant. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** UTC weekday (0 = Sunday) of a day number. 1970-01-01 was a Thursday. */
export function weekdayOfDay(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** The opening instant of the window on a given day number (whether or not the day is open). */
export function openingOn(w: CompiledWindow, day: number): number {
  return day * DAY_MS + w.startHour * HOUR_MS;
}

/** The occurrence containing `ms`, as `[start, end)` in ms, or undefined. Latest opening wins. */
export function spanAt(w: CompiledWindow, ms: number): [number, number] | undefined {
  const today = dayOf(ms);
  const back = Math.ceil(w.durationMinutes / 1440);
  for (let k = 0; k <= back; k++) {
    const day = today - k;
    if (!w.open[weekdayOfDay(day)]) continue;
    const start = openingOn(w, day);
    const end = start + w.durationMinutes * MINUTE_MS;
    if (start <= ms && ms < end) return [start, end];
  }
  return undefined;
}
