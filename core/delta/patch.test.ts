import { describe, expect, test } from "bun:test";
import { buildManifest } from "../trust/build_manifest.ts";
import { parseManifest, serializeManifest } from "../trust/manifest.ts";
import {
  choosePatch,
  encodePatchHeader,
  type ListedPatch,
  MAX_DELTA_BYTES,
  type PatchHeader,
  parsePatchFileName,
  parsePatchHeader,
  patchFileName,
} from "./patch.ts";

const SHA = (c: string) => c.repeat(64);
const A1 = "hello-v1.0.0-linux-amd64-bin.tar.gz";
const A2 = "hello-v1.1.0-linux-amd64-bin.tar.gz";
const header: PatchHeader = {
  from: { version: "1.0.0", name: A1, size: 100, sha256: SHA("a") },
  to: { version: "1.1.0", name: A2, size: 120, sha256: SHA("b") },
  content: "gzip",
  gzip_level: 6,
  base_bytes: 1000,
  target_bytes: 1200,
};

describe("patch names", () => {
  test("<artifact>.from-<version>.patch, round trip", () => {
    expect(patchFileName(A2, "v1.0.0")).toBe(`${A2}.from-1.0.0.patch`);
    expect(parsePatchFileName(`${A2}.from-1.0.0.patch`)).toEqual({ artifact: A2, from: "1.0.0" });
    expect(parsePatchFileName("upkeep-v0.2.0-linux-amd64.from-0.1.0-rc.1.patch")).toEqual({
      artifact: "upkeep-v0.2.0-linux-amd64",
      from: "0.1.0-rc.1",
    });
  });
  test("anything else is not a patch name", () => {
    for (const n of [
      A2,
      `${A2}.patch`,
      `${A2}.from-1.0.patch`,
      `${A2}.from-v1.0.0.patch`,
      ".from-1.0.0.patch",
    ])
      expect(parsePatchFileName(n)).toBeUndefined();
  });
});

describe("patch header", () => {
  test("encoded and parsed back; the frame starts after it", () => {
    const bytes = encodePatchHeader(header);
    const withFrame = new Uint8Array([...bytes, 0x28, 0xb5, 0x2f, 0xfd]);
    const { header: h, offset } = parsePatchHeader(withFrame);
    expect(h).toEqual(header);
    expect(offset).toBe(bytes.length);
  });
  test("refused: another file, unknown fields, a raw patch whose sizes disagree, oversized bases", () => {
    const enc = (o: object) => new TextEncoder().encode(`UPKEEP-PATCH 1\n${JSON.stringify(o)}\n`);
    expect(() => parsePatchHeader(new TextEncoder().encode("\x28\xb5\x2f\xfd"))).toThrow(
      /not an upkeep patch/,
    );
    expect(() => parsePatchHeader(enc({ ...header, extra: 1 }))).toThrow(/unknown field "extra"/);
    expect(() => parsePatchHeader(enc({ ...header, content: "raw", gzip_level: undefined }))).toThrow(
      /base_bytes and target_bytes/,
    );
    expect(() => parsePatchHeader(enc({ ...header, base_bytes: MAX_DELTA_BYTES + 1 }))).toThrow(
      /larger than/,
    );
    expect(() => parsePatchHeader(enc({ ...header, from: { ...header.from, sha256: "x" } }))).toThrow(
      /from.sha256/,
    );
    expect(() => parsePatchHeader(enc({ ...header, gzip_level: 10 }))).toThrow(/gzip_level/);
    expect(() => parsePatchHeader(new TextEncoder().encode("UPKEEP-PATCH 1\n{"))).toThrow(/no end of line/);
  });
});

describe("choosePatch", () => {
  const p = (from: string, base: string, size = 10): ListedPatch => ({
    from,
    name: patchFileName(A2, from),
    size,
    sha256: SHA("c"),
    base_sha256: SHA(base),
  });
  test("the first base, in the caller's order, with a patch from its exact bytes", () => {
    const patches = [p("1.0.0", "a"), p("0.9.0", "9")];
    const bases = [
      { version: "0.9.0", sha256: SHA("9") },
      { version: "1.0.0", sha256: SHA("a") },
    ];
    expect(choosePatch(patches, bases, 100)?.patch.from).toBe("0.9.0");
    expect(choosePatch(patches, bases.slice(1), 100)?.patch.from).toBe("1.0.0");
  });
  test("none: no patches, a base with other bytes (re-published), a patch not smaller than the artifact", () => {
    expect(choosePatch(undefined, [{ version: "1.0.0", sha256: SHA("a") }], 100)).toBeUndefined();
    expect(choosePatch([p("1.0.0", "a")], [{ version: "1.0.0", sha256: SHA("d") }], 100)).toBeUndefined();
    expect(
      choosePatch([p("1.0.0", "a", 100)], [{ version: "1.0.0", sha256: SHA("a") }], 100),
    ).toBeUndefined();
  });
});

describe("manifest patches", () => {
  const listed = {
    from: "1.0.0",
    name: patchFileName(A2, "1.0.0"),
    size: 7,
    sha256: SHA("c"),
    base_sha256: SHA("a"),
  };
  const build = (patches: ListedPatch[]) =>
    buildManifest({
      product: "hello",
      serial: 1,
      issued: new Date("2030-01-01T00:00:00Z"),
      expires: new Date("2030-01-31T00:00:00Z"),
      artifacts: [
        { name: A1, size: 100, sha256: SHA("a") },
        { name: A2, size: 120, sha256: SHA("b"), patches },
      ],
    });
  test("listed with their artifact, read back as written", () => {
    const m = build([listed]);
    expect(m.releases[0]?.artifacts[0]?.patches).toEqual([listed]);
    expect(parseManifest(serializeManifest(m))).toEqual(m);
    expect(m.releases[1]?.artifacts[0]?.patches).toBeUndefined();
  });
  test("refused: a name that is not <artifact>.from-<from>.patch, a patch to itself, two from one version", () => {
    expect(() => build([{ ...listed, name: `${A1}.from-1.0.0.patch` }])).toThrow(/expected "hello-v1.1.0/);
    expect(() => build([{ ...listed, from: "1.1.0", name: patchFileName(A2, "1.1.0") }])).toThrow(
      /to itself/,
    );
    expect(() => build([listed, listed])).toThrow(/a second patch from 1.0.0/);
    expect(() => build([{ ...listed, base_sha256: "A".repeat(64) }])).toThrow(/base_sha256/);
  });
});
