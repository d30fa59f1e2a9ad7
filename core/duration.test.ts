import { expect, test } from "bun:test";
import { parseDuration, tryParseDuration } from "./duration.ts";

test.each([
  ["30s", 30_000],
  ["5m", 300_000],
  ["1h30m", 5_400_000],
  ["720h", 2_592_000_000],
  ["250ms", 250],
  ["1.5s", 1500],
  ["2d", 172_800_000],
])("parseDuration(%p) = %p ms", (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each(["", "30", "s", "5 m", "1x", "-5s", "5m garbage"])("parseDuration(%p) is refused", (text) => {
  expect(() => parseDuration(text)).toThrow(SyntaxError);
  expect(tryParseDuration(text)).toBeUndefined();
});
