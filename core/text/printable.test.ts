import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { printable, printableText } from "./printable.ts";

describe("printable", () => {
  test.each([
    ["plain text", "plain text"],
    ["déjà vu ✓", "déjà vu ✓"],
    ["a\nb", "a\\nb"],
    ["a\r\nb", "a\\r\\nb"],
    ["tab\there", "tab\\there"],
    ["\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"],
    ["\x1b]0;title\x07", "\\x1b]0;title\\x07"],
    ["nul\0", "nul\\x00"],
    ["del\x7f", "del\\u007f"],
    ["csi\x9b2J", "csi\\u009b2J"],
    ["line\u2028sep", "line\\u2028sep"],
    ["rtl\u202eevil", "rtl\\u202eevil"],
    ["isolate\u2066x\u2069", "isolate\\u2066x\\u2069"],
  ])("%j -> %j", (input, want) => {
    expect(printable(input)).toBe(want);
  });

  test("printableText keeps newlines and tabs, escapes the rest", () => {
    expect(printableText("a\tb\nc\x1b[2Jd\re")).toBe("a\tb\nc\\x1b[2Jd\\re");
  });

  test("the result has no control character, and is one line", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const p = printable(s);
        for (const ch of p) {
          const c = ch.codePointAt(0) ?? 0;
          const unsafe = c < 0x20 || (c >= 0x7f && c <= 0x9f) || [0x2028, 0x2029].includes(c);
          expect(unsafe || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)).toBe(false);
        }
      }),
    );
  });

  test("escaping JSON text keeps it JSON with the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (v, s) => {
        const doc = { v, s };
        const text = JSON.stringify(doc);
        expect(JSON.parse(printable(text))).toEqual(JSON.parse(text));
        expect(JSON.parse(printableText(JSON.stringify(doc, null, 2)))).toEqual(JSON.parse(text));
      }),
    );
  });
});
