import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { currentWindow, isInWindow, nextWindowOpen, WEEKDAYS, type Window } from "./mod.ts";

const MIN = 60_000;

/** Brute force: is minute-aligned instant `t` an opening (listed weekday, hour = startHour, minute 0)? */
function isOpening(w: Window, t: number): boolean {
  const d = new Date(t);
  const day = WEEKDAYS[d.getUTCDay()] as string;
  const listed = w.days.some((x) => x === "*" || x.toLowerCase() === day.toLowerCase());
  return listed && d.getUTCHours() === w.startHour && d.getUTCMinutes() === 0;
}

/** Brute force: scan back minute by minute over the duration for an opening. */
function bruteInWindow(w: Window, now: number): boolean {
  const duration = w.durationMinutes ?? 60;
  const last = Math.floor(now / MIN) * MIN; // latest minute boundary <= now
  for (let t = last; t > now - duration * MIN; t -= MIN) if (isOpening(w, t)) return true;
  return false;
}

/** Brute force: first minute boundary strictly after now that is an opening. */
function bruteNextOpen(w: Window, now: number): number {
  let t = Math.floor(now / MIN) * MIN + MIN;
  for (let i = 0; i < 9 * 1440; i++, t += MIN) if (isOpening(w, t)) return t;
  throw new Error("no opening in 9 days");
}

const dayName = fc.constantFrom(...WEEKDAYS, "mon", "TUE", "sat");
const windowArb: fc.Arbitrary<Window> = fc.record({
  days: fc.oneof(
    fc.constant(["*"]),
    fc.uniqueArray(dayName, { minLength: 1, maxLength: 7, selector: (d) => d.toLowerCase() }),
  ),
  startHour: fc.integer({ min: 0, max: 23 }),
  durationMinutes: fc.option(fc.integer({ min: 1, max: 1440 }), { nil: undefined }),
});
// 2000-01-01 .. 2100-01-01, plus instants snapped to minute/hour boundaries where edge cases live.
const instantArb = fc.oneof(
  fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
  fc
    .integer({ min: 946_684_800_000 / 3_600_000, max: 4_102_444_800_000 / 3_600_000 })
    .map((h) => h * 3_600_000),
  fc.integer({ min: 946_684_800_000 / MIN, max: 4_102_444_800_000 / MIN }).map((m) => m * MIN - 1),
);

describe("window math agrees with a minute-by-minute scan", () => {
  test("isInWindow", () => {
    fc.assert(
      fc.property(windowArb, instantArb, (w, now) => {
        expect(isInWindow(w, now)).toBe(bruteInWindow(w, now));
      }),
      { numRuns: 300 },
    );
  });

  test("nextWindowOpen", () => {
    fc.assert(
      fc.property(windowArb, instantArb, (w, now) => {
        const next = nextWindowOpen(w, now).getTime();
        expect(next).toBe(bruteNextOpen(w, now));
        expect(next).toBeGreaterThan(now);
        expect(isInWindow(w, next)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  test("currentWindow contains now and starts at an opening", () => {
    fc.assert(
      fc.property(windowArb, instantArb, (w, now) => {
        const span = currentWindow(w, now);
        if (span === undefined) return;
        expect(span.start.getTime()).toBeLessThanOrEqual(now);
        expect(span.end.getTime()).toBeGreaterThan(now);
        expect(isOpening(w, span.start.getTime())).toBe(true);
        expect(span.end.getTime() - span.start.getTime()).toBe((w.durationMinutes ?? 60) * MIN);
      }),
      { numRuns: 200 },
    );
  });
});
