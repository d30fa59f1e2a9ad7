import { expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import { errorCodeOf, ioError } from "./io_error.ts";

const sys = (code: string) => Object.assign(new Error(`${code}: something, open`), { code });

test.each([
  ["ENOENT", "E_IO", "cannot read /x: no such file", sys("ENOENT")],
  ["EACCES", "E_IO", "cannot read /x: permission denied", sys("EACCES")],
  ["EISDIR", "E_IO", "cannot read /x: is a directory", sys("EISDIR")],
  ["EROFS", "E_IO", "cannot read /x: EROFS", sys("EROFS")],
  ["ENOSPC", "E_NO_SPACE", "cannot read /x: no space left on the device", sys("ENOSPC")],
  ["an error without a code", "E_IO", "cannot read /x: torn", new Error("torn")],
  ["a string", "E_IO", "cannot read /x: a string", "a string"],
] as const)("ioError of %s: %s %s", (_what, code, message, e) => {
  const err = ioError("read", "/x", e, { hint: "h" });
  expect(err).toMatchObject({ code, message, hint: "h", cause: e });
});

test("an UpkeepError passes through as it is", () => {
  const e = new UpkeepError("E_MALFORMED", "bad");
  expect(ioError("read", "/x", e)).toBe(e);
});

test.each([
  ["a system error", "ENOENT", sys("ENOENT")],
  ["a code that is no string", undefined, { code: 7 }],
  ["an empty code", undefined, { code: "" }],
  ["an error without a code", undefined, new Error("x")],
  ["undefined", undefined, undefined],
  ["null", undefined, null],
] as const)("errorCodeOf %s is %p", (_what, want, e) => {
  expect(errorCodeOf(e)).toBe(want);
});
