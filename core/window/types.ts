/**
 * Maintenance windows: when a group of hosts may update. All times are UTC.
 *
 * A window opens at `startHour`:00 UTC on every day whose UTC weekday is in `days`, and stays open
 * `durationMinutes` (default 60) — possibly past midnight into the next day. The interval is half-open:
 * open at the opening instant, closed again at exactly `opening + durationMinutes`.
 */

/** The seven UTC weekdays, Sunday first (the index is `Date.prototype.getUTCDay()`). */
export const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

/** A weekday in canonical form. */
export type Weekday = (typeof WEEKDAYS)[number];

/** A day entry in a window: a weekday, or `"*"` for every day. */
export type DaySpec = Weekday | "*";

/** How long a window stays open when `durationMinutes` is not given. */
export const DEFAULT_WINDOW_MINUTES = 60;

/** Longest window accepted: one day. */
export const MAX_WINDOW_MINUTES = 1440;

export type Window = {
  /** `"Mon"`..`"Sun"` (case-insensitive on input) or `"*"`. */
  days: readonly string[];
  /** UTC hour at which the window opens, 0..23. */
  startHour: number;
  /** Minutes the window stays open, 1..1440; default 60. */
  durationMinutes?: number;
};

/** One occurrence of a window: `[start, end)`. */
export type WindowSpan = { start: Date; end: Date };
