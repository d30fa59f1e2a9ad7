import { describe, expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import {
  checkWindow,
  currentWindow,
  isInWindow,
  nextWindowOpen,
  tryParseWeekday,
  type Window,
} from "./mod.ts";

const at = (iso: string) => new Date(iso);
// 2024-01-01 was a Monday.
const MON = "2024-01-01";
const TUE = "2024-01-02";
const SUN = "2024-01-07";

describe("tryParseWeekday", () => {
  test.each([
    ["Mon", "Mon"],
    ["mon", "Mon"],
    ["MON", "Mon"],
    ["sUn", "Sun"],
    ["*", "*"],
  ])("%p -> %p", (input, want) => {
    expect(tryParseWeekday(input)).toBe(want as never);
  });
  test.each([["Monday"], ["Mo"], [""], ["**"], [1], [null]])("refuses %p", (input) => {
    expect(tryParseWeekday(input)).toBeUndefined();
  });
});

describe("checkWindow", () => {
  test("days in any case, the default duration", () => {
    expect(checkWindow({ days: ["mon", "TUE"], startHour: 9 })).toEqual([]);
    expect(isInWindow({ days: ["mon"], startHour: 9 }, at(`${MON}T09:59:00Z`))).toBe(true);
  });
  test.each<[string, Window, RegExp]>([
    ["empty days", { days: [], startHour: 0 }, /window\.days: must be a non-empty list/],
    ["bad day", { days: ["Mon", "Funday"], startHour: 0 }, /window\.days\[1\]: .*got "Funday"/],
    ["duplicate day", { days: ["Mon", "mon"], startHour: 0 }, /window\.days\[1\]: duplicate day "mon"/],
    ["star with others", { days: ["*", "Mon"], startHour: 0 }, /"\*" means every day and must stand alone/],
    ["hour 24", { days: ["*"], startHour: 24 }, /window\.startHour: must be an integer 0..23 \(got 24\)/],
    ["hour -1", { days: ["*"], startHour: -1 }, /window\.startHour/],
    ["hour 1.5", { days: ["*"], startHour: 1.5 }, /window\.startHour/],
    ["duration 0", { days: ["*"], startHour: 1, durationMinutes: 0 }, /window\.durationMinutes: .*1..1440/],
    ["duration 1441", { days: ["*"], startHour: 1, durationMinutes: 1441 }, /window\.durationMinutes/],
  ])("refuses %s", (_name, w, re) => {
    expect(checkWindow(w).join("; ")).toMatch(re);
    expect(() => isInWindow(w, at(`${MON}T00:00:00Z`))).toThrow(re);
  });
  test("collects every problem", () => {
    const problems = checkWindow({ days: ["x"], startHour: 99, durationMinutes: -1 }, "spec.w");
    expect(problems).toHaveLength(3);
    expect(problems[0]).toStartWith("spec.w.days[0]");
  });
  test("the error is an UpkeepError E_BAD_RESOURCE", () => {
    try {
      isInWindow({ days: ["x"], startHour: 0 }, at(`${MON}T00:00:00Z`));
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(UpkeepError);
      expect((e as UpkeepError).code).toBe("E_BAD_RESOURCE");
    }
  });
});

describe("isInWindow / currentWindow", () => {
  const monNine: Window = { days: ["Mon"], startHour: 9 };
  test.each<[string, Window, string, boolean]>([
    ["before the opening", monNine, `${MON}T08:59:59.999Z`, false],
    ["at the opening", monNine, `${MON}T09:00:00Z`, true],
    ["inside", monNine, `${MON}T09:59:59.999Z`, true],
    ["at the end (half-open)", monNine, `${MON}T10:00:00Z`, false],
    ["same hour on an unlisted day", monNine, `${TUE}T09:30:00Z`, false],
    ["star covers Sunday", { days: ["*"], startHour: 9 }, `${SUN}T09:30:00Z`, true],
    ["lowercase days work", { days: ["mon"], startHour: 9 }, `${MON}T09:30:00Z`, true],
    [
      "crosses midnight into an unlisted day",
      { days: ["Mon"], startHour: 23, durationMinutes: 120 },
      `${TUE}T00:30:00Z`,
      true,
    ],
    [
      "closes after crossing midnight",
      { days: ["Mon"], startHour: 23, durationMinutes: 120 },
      `${TUE}T01:00:00Z`,
      false,
    ],
    [
      "Sunday window crosses into Monday",
      { days: ["Sun"], startHour: 22, durationMinutes: 180 },
      "2024-01-08T00:59:00Z",
      true,
    ],
    ["a full-day window", { days: ["Mon"], startHour: 0, durationMinutes: 1440 }, `${MON}T23:59:59Z`, true],
    [
      "a full-day window ends",
      { days: ["Mon"], startHour: 0, durationMinutes: 1440 },
      `${TUE}T00:00:00Z`,
      false,
    ],
  ])("%s", (_name, w, iso, want) => {
    expect(isInWindow(w, at(iso))).toBe(want);
    expect(isInWindow(w, at(iso).getTime())).toBe(want);
    expect(currentWindow(w, at(iso)) !== undefined).toBe(want);
  });
  test("currentWindow returns the occurrence", () => {
    const w: Window = { days: ["Mon"], startHour: 23, durationMinutes: 120 };
    expect(currentWindow(w, at(`${TUE}T00:30:00Z`))).toEqual({
      start: at(`${MON}T23:00:00Z`),
      end: at(`${TUE}T01:00:00Z`),
    });
    expect(currentWindow(w, at(`${TUE}T02:00:00Z`))).toBeUndefined();
  });
  test("back-to-back daily full-day windows: the latest opening wins", () => {
    const w: Window = { days: ["*"], startHour: 6, durationMinutes: 1440 };
    expect(currentWindow(w, at(`${TUE}T06:00:00Z`))?.start).toEqual(at(`${TUE}T06:00:00Z`));
  });
  test("an invalid now or window throws", () => {
    expect(() => isInWindow(monNine, new Date(Number.NaN))).toThrow(/invalid instant/);
    expect(() => isInWindow({ days: ["Xyz"], startHour: 1 }, 0)).toThrow(/window\.days\[0\]/);
  });
});

describe("nextWindowOpen (strictly after now)", () => {
  test.each<[string, Window, string, string]>([
    ["later the same day", { days: ["Mon"], startHour: 9 }, `${MON}T08:00:00Z`, `${MON}T09:00:00Z`],
    [
      "exactly at an opening: the next one",
      { days: ["Mon"], startHour: 9 },
      `${MON}T09:00:00Z`,
      "2024-01-08T09:00:00Z",
    ],
    ["one ms before", { days: ["Mon"], startHour: 9 }, `${MON}T08:59:59.999Z`, `${MON}T09:00:00Z`],
    ["inside: the next one", { days: ["*"], startHour: 9 }, `${MON}T09:30:00Z`, `${TUE}T09:00:00Z`],
    ["next listed day", { days: ["Wed", "Fri"], startHour: 2 }, `${MON}T12:00:00Z`, "2024-01-03T02:00:00Z"],
    ["wraps the week", { days: ["Sun"], startHour: 0 }, `${SUN}T00:00:01Z`, "2024-01-14T00:00:00Z"],
    ["before 1970", { days: ["Thu"], startHour: 0 }, "1969-12-31T12:00:00Z", "1970-01-01T00:00:00Z"],
  ])("%s", (_name, w, iso, want) => {
    expect(nextWindowOpen(w, at(iso))).toEqual(at(want));
  });
});
