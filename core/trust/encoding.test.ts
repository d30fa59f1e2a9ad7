import { describe, expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import { decodeBase64, encodeBase64 } from "./encoding.ts";

describe("base64", () => {
  test("strict: padding, alphabet, canonical trailing bits, exact length", () => {
    expect(encodeBase64(decodeBase64("AAEC", 3, "x"))).toBe("AAEC");
    for (const bad of ["AAE", "AAEC=", "AA EC", "AAE-", "AAF=", "AAEDAA=="]) {
      expect(() => decodeBase64(bad, 3, "x")).toThrow(UpkeepError);
    }
    // "AAF=" decodes to 2 bytes with non-zero padding bits: a second spelling of "AAE=".
    expect(() => decodeBase64("AAF=", 2, "x")).toThrow(/canonical/);
    expect(decodeBase64("AAE=", 2, "x")).toEqual(new Uint8Array([0, 1]));
  });
});
