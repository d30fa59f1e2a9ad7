import { UpkeepError } from "../errors.ts";
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

/** Like {@linkcode tryParseWeekday} but throws an `E_BAD_RESOURCE` error naming the bad value. */
export function parseWeekday(s: unknown, path = "day"): DaySpec {
  const d = tryParseWeekday(s);
  if (d === undefined) {
    throw new UpkeepError(
      "E_BAD_RESOURCE",
      `${path}: must be one of Mon..Sun or "*" (got ${JSON.stringify(s)})`,
    );
  }
  return d;
}
