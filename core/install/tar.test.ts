import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { tar } from "../../test/install_helpers.ts";
import { isUpkeepError } from "../errors.ts";
import { TarReader } from "./tar.ts";

describe("tar reader", () => {
  test("the reader gives the same entries and bytes however the input is chunked", () => {
    const archive = Buffer.concat(
      [
        tar.dir("a"),
        tar.file("a/one", "1".repeat(700)),
        tar.pax({ path: `a/${"p".repeat(150)}` }),
        tar.file("x", "pax body"),
        tar.gnuLong(`a/${"g".repeat(120)}`),
        tar.file("y", ""),
        tar.symlink("a/l", "one"),
        tar.file("a/two", new Uint8Array(1500).fill(2)),
        tar.end(),
      ].flat(),
    );
    const read = (cuts: number[]) => {
      const out: string[] = [];
      const r = new TarReader({
        entry: (e) => out.push(`${e.kind}:${e.path}:${e.size}:${e.linkpath}`),
        data: (d) => out.push(`data:${d.length}`),
        end: () => out.push("end"),
      });
      let prev = 0;
      for (const c of [...cuts.sort((a, b) => a - b), archive.length]) {
        r.write(archive.subarray(prev, Math.max(prev, c)));
        prev = Math.max(prev, c);
      }
      r.end();
      // Data events differ in size with the chunking; their sum per entry must not.
      const merged: string[] = [];
      for (const s of out) {
        const last = merged[merged.length - 1];
        if (s.startsWith("data:") && last?.startsWith("data:")) {
          merged[merged.length - 1] = `data:${Number(last.slice(5)) + Number(s.slice(5))}`;
        } else merged.push(s);
      }
      return merged;
    };
    const whole = read([]);
    expect(whole).toContain(`file:a/${"p".repeat(150)}:8:`);
    expect(whole).toContain(`file:a/${"g".repeat(120)}:0:`);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: archive.length }), { maxLength: 20 }), (cuts) => {
        expect(read(cuts)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  test("the reader never throws anything but coded errors on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), (bytes) => {
        const r = new TarReader({ entry: () => {}, data: () => {}, end: () => {} });
        try {
          r.write(bytes);
          r.end();
        } catch (e) {
          expect(isUpkeepError(e)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
