import { describe, expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import { formatChecksumFile, parseChecksumFile } from "./checksum_file.ts";

describe(".sha256 files", () => {
  test("sha256sum format in and out; another file's line is refused", () => {
    const sum = "a".repeat(64);
    expect(formatChecksumFile(sum, "f.tar.gz")).toBe(`${sum}  f.tar.gz\n`);
    expect(parseChecksumFile(`${sum}  f.tar.gz\n`, "f.tar.gz")).toBe(sum);
    expect(parseChecksumFile(`${sum.toUpperCase()} *f.tar.gz`, "f.tar.gz")).toBe(sum);
    expect(() => parseChecksumFile(`${sum}  g.tar.gz\n`, "f.tar.gz")).toThrow(/names "g.tar.gz"/);
    expect(() => parseChecksumFile(`${sum}\n${sum}  f.tar.gz`, "f.tar.gz")).toThrow(UpkeepError);
    expect(() => parseChecksumFile(`${sum}\n`, "f.tar.gz")).toThrow(/expected one line/);
    expect(() => parseChecksumFile(`${sum}  dist/f.tar.gz\n`, "f.tar.gz", "/r/f.tar.gz.sha256")).toThrow(
      '/r/f.tar.gz.sha256: names "dist/f.tar.gz", not "f.tar.gz"',
    );
  });
});
