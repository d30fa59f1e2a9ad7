import { describe, expect, test } from "bun:test";
import { type TarEntry, TarReader } from "../install/tar.ts";
import { END_OF_ARCHIVE, entryHeaders, padding, paxRecord, splitUstarName } from "./tar_write.ts";

/** Reads an archive with the installer's strict reader: the entries and their data. */
function read(blocks: Uint8Array[]): { entry: TarEntry; data: string }[] {
  const out: { entry: TarEntry; data: string }[] = [];
  let data = "";
  const reader = new TarReader({
    entry: () => {
      data = "";
    },
    data: (c) => {
      data += new TextDecoder().decode(c);
    },
    end: (e) => out.push({ entry: e, data }),
  });
  for (const b of blocks) reader.write(b);
  reader.end();
  expect(reader.done).toBe(true);
  return out;
}

function file(name: string, body: string, extra: { linkname?: string; type?: string } = {}): Uint8Array[] {
  const bytes = new TextEncoder().encode(body);
  return [...entryHeaders({ name, mode: 0o644, size: bytes.length, ...extra }), bytes, padding(bytes.length)];
}

describe("tar writer (read back by the installer's strict reader)", () => {
  test("short names, long names (ustar prefix), very long names and link targets (pax)", () => {
    const mid = `${"d".repeat(120)}/${"f".repeat(90)}`;
    const huge = `${"a".repeat(200)}/${"b".repeat(200)}/c`;
    const target = "x/".repeat(80);
    const got = read([
      ...file("bin/hello", "hi\n"),
      ...file(mid, "mid"),
      ...file(huge, "huge"),
      ...entryHeaders({ name: "link", type: "2", mode: 0o777, linkname: target }),
      ...file("é/ünïcode", "u"),
      END_OF_ARCHIVE,
    ]);
    expect(got.map((g) => [g.entry.path, g.entry.kind, g.data])).toEqual([
      ["bin/hello", "file", "hi\n"],
      [mid, "file", "mid"],
      [huge, "file", "huge"],
      ["link", "symlink", ""],
      ["é/ünïcode", "file", "u"],
    ]);
    expect(got[3]?.entry.linkpath).toBe(target);
  });

  test("a long folder name keeps its trailing slash", () => {
    const dir = `${"p".repeat(150)}/${"q".repeat(20)}/`;
    const got = read([...entryHeaders({ name: dir, type: "5", mode: 0o755 }), END_OF_ARCHIVE]);
    expect(got[0]?.entry.kind).toBe("directory");
    expect(got[0]?.entry.path.replace(/\/$/, "")).toBe(dir.slice(0, -1));
  });

  test("splitUstarName: at a slash, at most 155 bytes before and 100 after", () => {
    expect(splitUstarName("a/b")).toEqual({ prefix: "", name: "a/b" });
    expect(splitUstarName(`${"a".repeat(150)}/${"b".repeat(100)}`)).toEqual({
      prefix: "a".repeat(150),
      name: "b".repeat(100),
    });
    expect(splitUstarName(`${"a".repeat(150)}/${"b".repeat(101)}`)).toBeUndefined();
    expect(splitUstarName(`${"a".repeat(156)}/b${"c".repeat(99)}`)).toBeUndefined();
    expect(splitUstarName("x".repeat(101))).toBeUndefined();
  });

  test("paxRecord counts its own length", () => {
    for (const v of ["", "a", "a".repeat(85), "a".repeat(86), "a".repeat(994), "a".repeat(995)]) {
      const r = paxRecord("path", v);
      expect(Number(r.split(" ")[0])).toBe(new TextEncoder().encode(r).length);
    }
  });
});
