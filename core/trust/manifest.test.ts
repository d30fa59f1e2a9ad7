import { describe, expect, test } from "bun:test";
import { buildManifest } from "./build_manifest.ts";
import {
  checkFreshness,
  findArtifact,
  findRelease,
  installableReleases,
  type Manifest,
  parseManifest,
  serializeManifest,
} from "./manifest.ts";

const SHA = (c: string) => c.repeat(64);
const art = (name: string, size = 10, sha256 = SHA("a")) => ({ name, size, sha256 });
const ISSUED = new Date("2030-01-01T00:00:00Z");
const EXPIRES = new Date("2030-01-31T00:00:00Z");

function manifest(overrides: Partial<Parameters<typeof buildManifest>[0]> = {}): Manifest {
  return buildManifest({
    product: "hello",
    serial: 100,
    issued: ISSUED,
    expires: EXPIRES,
    floor: "1.1.0",
    critical: ["1.2.0"],
    artifacts: [
      art("hello-v1.0.0-linux-amd64-bin.tar.gz"),
      art("hello-v1.2.0-linux-amd64-bin.tar.gz", 20, SHA("b")),
      art("hello-ent-v1.2.0-linux-arm64-fips-bin.tar.gz", 30, SHA("c")),
      art("hello-v1.1.0-darwin-arm64-bin.tar.gz"),
    ],
    ...overrides,
  });
}

describe("release manifest", () => {
  test("built from artifacts: grouped by version, newest first, fields from the names", () => {
    const m = manifest();
    expect(m.releases.map((r) => r.version)).toEqual(["1.2.0", "1.1.0", "1.0.0"]);
    expect(m.releases[0]?.critical).toBe(true);
    expect(m.releases[1]?.critical).toBeUndefined();
    expect(m.releases[0]?.artifacts.map((a) => a.name)).toEqual([
      "hello-ent-v1.2.0-linux-arm64-fips-bin.tar.gz",
      "hello-v1.2.0-linux-amd64-bin.tar.gz",
    ]);
    expect(m.releases[0]?.artifacts[0]).toEqual({
      name: "hello-ent-v1.2.0-linux-arm64-fips-bin.tar.gz",
      os: "linux",
      arch: "arm64",
      edition: "ent",
      fips: true,
      size: 30,
      sha256: SHA("c"),
    });
    expect(m).toMatchObject({ schema: 1, product: "hello", serial: 100, floor: "1.1.0" });
    expect(m.issued).toBe("2030-01-01T00:00:00Z");
    expect(m.expires).toBe("2030-01-31T00:00:00Z");
  });

  test("serialize and parse round-trip", () => {
    const m = manifest();
    expect(parseManifest(serializeManifest(m))).toEqual(m);
    expect(parseManifest(serializeManifest(m), { product: "hello" })).toEqual(m);
  });

  test("unpacked_size: optional per artifact, signed with the rest; manifests without it still parse", () => {
    const withIt = manifest({
      artifacts: [
        { ...art("hello-v1.2.0-linux-amd64-bin.tar.gz", 20, SHA("b")), unpacked_size: 81920 },
        art("hello-v1.1.0-linux-amd64-bin.tar.gz"),
      ],
    });
    const text = serializeManifest(withIt);
    expect(JSON.parse(text).releases[0].artifacts[0]).toEqual({
      name: "hello-v1.2.0-linux-amd64-bin.tar.gz",
      os: "linux",
      arch: "amd64",
      edition: "oss",
      fips: false,
      size: 20,
      sha256: SHA("b"),
      unpacked_size: 81920,
    });
    expect(text).not.toContain('"unpacked_size": null');
    expect(parseManifest(text)).toEqual(withIt);
    expect(withIt.releases[1]?.artifacts[0]?.unpacked_size).toBeUndefined();
    // An older manifest (no field at all) parses as before.
    expect(parseManifest(serializeManifest(manifest())).releases[0]?.artifacts[0]).not.toHaveProperty(
      "unpacked_size",
    );
    for (const bad of [-1, 1.5, "81920", null]) {
      const j = JSON.parse(text);
      j.releases[0].artifacts[0].unpacked_size = bad;
      expect(() => parseManifest(JSON.stringify(j)), String(bad)).toThrow(/unpacked_size/);
    }
    expect(() =>
      manifest({ artifacts: [{ ...art("hello-v1.2.0-linux-amd64-bin.tar.gz"), unpacked_size: -5 }] }),
    ).toThrow(/bad unpacked size/);
  });

  test("build refuses bad input with a usage error", () => {
    expect(() => manifest({ artifacts: [art("hello-v1.0.0.tar.gz")] })).toThrow(/not an artifact of hello/);
    expect(() => manifest({ critical: ["9.9.9"] })).toThrow(/--critical 9.9.9/);
    expect(() => manifest({ floor: "5.0.0" })).toThrow(/above every version/);
    expect(() => manifest({ expires: ISSUED })).toThrow(/after the issue time/);
    expect(() => manifest({ artifacts: [] })).toThrow(/no artifacts/);
  });

  test("parse refuses: other product, unknown fields, mismatched fields, duplicates, bad values", () => {
    const good = JSON.parse(serializeManifest(manifest()));
    // biome-ignore lint/suspicious/noExplicitAny: free-form JSON surgery on a parsed manifest
    const variants: [string, (j: any) => void, RegExp][] = [
      ["other product", (j) => (j.product = "other"), /not "hello"|does not follow/],
      ["unknown top field", (j) => (j.extra = 1), /unknown field "extra"/],
      ["schema", (j) => (j.schema = 2), /unsupported schema/],
      ["negative serial", (j) => (j.serial = -1), /serial/],
      ["fractional serial", (j) => (j.serial = 1.5), /serial/],
      ["bad time", (j) => (j.expires = "tomorrow"), /expires/],
      ["expires before issued", (j) => (j.expires = "2029-01-01T00:00:00Z"), /after issued/],
      ["non-canonical floor", (j) => (j.floor = "v1.1.0"), /canonical/],
      ["os disagrees with name", (j) => (j.releases[0].artifacts[0].os = "darwin"), /disagree/],
      ["fips disagrees with name", (j) => (j.releases[0].artifacts[0].fips = false), /disagree/],
      ["version disagrees with names", (j) => (j.releases[0].version = "1.3.0"), /disagree/],
      ["upper-case sha256", (j) => (j.releases[0].artifacts[0].sha256 = SHA("A")), /sha256/],
      ["size as string", (j) => (j.releases[0].artifacts[0].size = "20"), /size/],
      ["critical false", (j) => (j.releases[0].critical = false), /critical/],
      ["empty artifacts", (j) => (j.releases[0].artifacts = []), /non-empty/],
      ["duplicate release", (j) => j.releases.push(structuredClone(j.releases[0])), /listed twice/],
      ["array root", (j) => (j.releases = {}), /array/],
    ];
    for (const [what, mutate, message] of variants) {
      const j = structuredClone(good);
      mutate(j);
      expect(() => parseManifest(JSON.stringify(j), { product: "hello" }), what).toThrow(message);
    }
    expect(() => parseManifest("{", {})).toThrow(/not valid JSON/);
    expect(() => parseManifest("[]", {})).toThrow(/expected an object/);
    expect(() => parseManifest(" ".repeat(8 * 1024 * 1024 + 1))).toThrow(/larger than/);
  });

  test("decisions: freshness, floor, listing", () => {
    const m = manifest();
    checkFreshness(m, { now: new Date("2030-01-15T00:00:00Z"), lastSerial: 100 });
    expect(() => checkFreshness(m, { now: EXPIRES })).toThrow(expect.objectContaining({ code: "E_EXPIRED" }));
    expect(() => checkFreshness(m, { now: ISSUED, lastSerial: 101 })).toThrow(
      expect.objectContaining({ code: "E_ROLLBACK" }),
    );
    expect(findRelease(m, "v1.2.0").version).toBe("1.2.0");
    expect(() => findRelease(m, "1.0.0")).toThrow(expect.objectContaining({ code: "E_BELOW_FLOOR" }));
    expect(() => findRelease(m, "1.3.0")).toThrow(expect.objectContaining({ code: "E_NOT_IN_MANIFEST" }));
    expect(findArtifact(m, "hello-v1.2.0-linux-amd64-bin.tar.gz").artifact.size).toBe(20);
    expect(() => findArtifact(m, "hello-v1.2.0-linux-arm64-bin.tar.gz")).toThrow(
      expect.objectContaining({ code: "E_NOT_IN_MANIFEST" }),
    );
    expect(installableReleases(m).map((r) => r.version)).toEqual(["1.2.0", "1.1.0"]);
  });
});
