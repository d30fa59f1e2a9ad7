import { expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import { errorCodeOf, ioError } from "./io_error.ts";

const sys = (code: string) => Object.assign(new Error(`${code}: something, open`), { code });

test.each([
  [sys("ENOENT"), "E_IO", "cannot read /x: no such file"],
  [sys("EACCES"), "E_IO", "cannot read /x: permission denied"],
  [sys("EISDIR"), "E_IO", "cannot read /x: is a directory"],
  [sys("EROFS"), "E_IO", "cannot read /x: EROFS"],
  [sys("ENOSPC"), "E_NO_SPACE", "cannot read /x: no space left on the device"],
  [new Error("torn"), "E_IO", "cannot read /x: torn"],
  ["a string", "E_IO", "cannot read /x: a string"],
] as const)("ioError of %p: %s %s", (e, code, message) => {
  const err = ioError("read", "/x", e, { hint: "h" });
  expect(err).toMatchObject({ code, message, hint: "h", cause: e });
});

test("an UpkeepError passes through as it is", () => {
  const e = new UpkeepError("E_MALFORMED", "bad");
  expect(ioError("read", "/x", e)).toBe(e);
});

test.each([
  [sys("ENOENT"), "ENOENT"],
  [{ code: 7 }, undefined],
  [{ code: "" }, undefined],
  [new Error("x"), undefined],
  [undefined, undefined],
  [null, undefined],
] as const)("errorCodeOf(%p) is %p", (e, want) => {
  expect(errorCodeOf(e)).toBe(want);
});
