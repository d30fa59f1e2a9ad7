import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Blake2b, blake2b } from "./blake2b.ts";
import { toHex } from "./encoding.ts";

const te = new TextEncoder();
const hex = (b: Uint8Array) => toHex(b);

describe("BLAKE2b", () => {
  test("RFC 7693 and reference vectors", () => {
    expect(hex(blake2b(te.encode("abc")))).toBe(
      "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
    );
    expect(hex(blake2b(new Uint8Array()))).toBe(
      "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
    );
    expect(hex(blake2b(new Uint8Array(), 32))).toBe(
      "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
    );
    expect(hex(blake2b(te.encode("abc"), 32))).toBe(
      "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
    );
  });

  test("matches Bun's native BLAKE2b on block boundaries and in pieces", () => {
    for (const len of [1, 127, 128, 129, 255, 256, 257, 1000, 70_000]) {
      const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
      const ref = new Bun.CryptoHasher("blake2b512").update(data).digest("hex");
      expect(hex(blake2b(data))).toBe(ref);
      const h = new Blake2b();
      for (let i = 0; i < len; i += 97) h.update(data.subarray(i, i + 97));
      expect(hex(h.digest())).toBe(ref);
      expect(hex(blake2b(data, 32))).toBe(new Bun.CryptoHasher("blake2b256").update(data).digest("hex"));
    }
  });

  test("property: equals the native hasher for random inputs and splits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), (data, split) => {
        const h = new Blake2b();
        h.update(data.subarray(0, split));
        h.update(data.subarray(split));
        return hex(h.digest()) === new Bun.CryptoHasher("blake2b512").update(data).digest("hex");
      }),
      { numRuns: 200 },
    );
  });
});
