import { type DaySpec, WEEKDAYS, type Weekday } from "./types.ts";

const BY_LOWER: ReadonlyMap<string, Weekday> = new Map(WEEKDAYS.map((d) => [d.toLowerCase(), d]));

/**
 * Parses a day entry: a three-letter English weekday, any case (`"Mon"`, `"mon"`, `"MON"`), or `"*"`.
 * Returns the canonical form (`"Mon"`, `"*"`), or `undefined` for anything else (full names, numbers...).
 */
export function tryParseWeekday(s: unknown): DaySpec | undefined {
  if (typeof s !== "string") return undefined;
  if (s === "*") return "*";
  return BY_LOWER.get(s.toLowerCase());
}
