import { tryParseWeekday } from "./parse_weekday.ts";
import { MAX_WINDOW_MINUTES, type Window } from "./types.ts";

/**
 * Validates a window (isInWindow and the others refuse an invalid one with E_BAD_RESOURCE). Rules:
 * - `days`: a non-empty list of `Mon`..`Sun` (any case) or `"*"`; `"*"` must stand alone; no duplicates.
 * - `startHour`: integer 0..23 (UTC).
 * - `durationMinutes`: integer 1..1440, default 60.
 *
 * Returns the list of problems (each names the field under `path`) instead of throwing; empty when valid.
 */
export function checkWindow(input: Window, path = "window"): string[] {
  const problems: string[] = [];
  const days = (input as { days?: unknown }).days;
  if (!Array.isArray(days) || days.length === 0) {
    problems.push(`${path}.days: must be a non-empty list of Mon..Sun or "*" (got ${JSON.stringify(days)})`);
  } else {
    const seen = new Set<string>();
    for (const [i, raw] of days.entries()) {
      const d = tryParseWeekday(raw);
      if (d === undefined) {
        problems.push(`${path}.days[${i}]: must be one of Mon..Sun or "*" (got ${JSON.stringify(raw)})`);
      } else if (seen.has(d)) {
        problems.push(`${path}.days[${i}]: duplicate day ${JSON.stringify(raw)}`);
      } else seen.add(d);
    }
    if (seen.has("*") && days.length > 1)
      problems.push(`${path}.days: "*" means every day and must stand alone`);
  }
  const h = (input as { startHour?: unknown }).startHour;
  if (typeof h !== "number" || !Number.isInteger(h) || h < 0 || h > 23) {
    problems.push(`${path}.startHour: must be an integer 0..23 (got ${JSON.stringify(h)})`);
  }
  const m = (input as { durationMinutes?: unknown }).durationMinutes;
  if (m !== undefined && (typeof m !== "number" || !Number.isInteger(m) || m < 1 || m > MAX_WINDOW_MINUTES)) {
    problems.push(
      `${path}.durationMinutes: must be an integer 1..${MAX_WINDOW_MINUTES} (got ${JSON.stringify(m)})`,
    );
  }
  return problems;
}
