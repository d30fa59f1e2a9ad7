/** The refusal body: Teleport's `{"error": {"message"}}` with upkeep's fields beside it; read in either shape. */
import { describe, expect, test } from "bun:test";
import { errorBody, readErrorBody } from "./mod.ts";

describe("errorBody", () => {
  test("Teleport's PingErrorResponse shape, upkeep's code, hint and problems beside it", () => {
    expect(JSON.stringify(errorBody("invalid token"))).toBe('{"error":{"message":"invalid token"}}');
    expect(
      JSON.stringify(
        errorBody("bad resource", {
          code: "E_BAD_RESOURCE",
          hint: "fix it",
          problems: [{ path: "spec.tools.mode", message: "must be enabled or disabled" }],
        }),
      ),
    ).toBe(
      '{"error":{"message":"bad resource"},"code":"E_BAD_RESOURCE","hint":"fix it","problems":[{"path":"spec.tools.mode","message":"must be enabled or disabled"}]}',
    );
  });
});

describe("readErrorBody", () => {
  test("reads what errorBody writes", () => {
    const body = errorBody("no token", { code: "E_UNAUTHORIZED", hint: "send one" });
    expect(readErrorBody(JSON.parse(JSON.stringify(body)))).toEqual({
      message: "no token",
      code: "E_UNAUTHORIZED",
      hint: "send one",
      problems: [],
    });
  });

  test.each<[string, unknown, ReturnType<typeof readErrorBody>]>([
    [
      "the flat shape of older upkeep servers",
      { error: "gone", code: "E_NOT_FOUND" },
      { message: "gone", code: "E_NOT_FOUND", problems: [] },
    ],
    [
      "a Teleport proxy's refusal",
      { error: { message: "access denied" } },
      { message: "access denied", problems: [] },
    ],
    ["a flat message", { message: "busy" }, { message: "busy", problems: [] }],
    [
      "a code inside the error object",
      { error: { message: "m", code: "E_X" } },
      { message: "m", code: "E_X", problems: [] },
    ],
    ["not an object", "text", { problems: [] }],
    ["null", null, { problems: [] }],
    [
      "fields of other types are left out",
      { error: { message: 5 }, code: 1, hint: [], problems: "x" },
      { problems: [] },
    ],
    ["empty strings are no message", { error: "", message: "" }, { problems: [] }],
    [
      "only well-formed problems are kept",
      { error: { message: "m" }, problems: [{ path: "a", message: "b", extra: 1 }, { path: 1 }, null] },
      { message: "m", problems: [{ path: "a", message: "b" }] },
    ],
  ])("%s", (_name, doc, want) => {
    expect(readErrorBody(doc)).toEqual(want);
  });
});
