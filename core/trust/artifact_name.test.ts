import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type ArtifactName,
  formatArtifactName,
  formatSelfArtifactName,
  isSelfExecutableName,
  isStoredName,
  SELF_PRODUCT,
  tryParseArtifactName,
} from "./artifact_name.ts";

describe("artifact names", () => {
  const base: ArtifactName = {
    product: "hello",
    edition: "oss",
    version: "1.2.3",
    os: "linux",
    arch: "amd64",
    fips: false,
  };

  test("format follows the template", () => {
    expect(formatArtifactName(base)).toBe("hello-v1.2.3-linux-amd64-bin.tar.gz");
    expect(formatArtifactName({ ...base, edition: "ent", fips: true })).toBe(
      "hello-ent-v1.2.3-linux-amd64-fips-bin.tar.gz",
    );
    expect(formatArtifactName({ ...base, product: "my-app", version: "v2.0.0-rc.1" })).toBe(
      "my-app-v2.0.0-rc.1-linux-amd64-bin.tar.gz",
    );
  });

  test("parse is the inverse, against a known product", () => {
    expect(tryParseArtifactName("hello", "hello-ent-v1.2.3-darwin-arm64-fips-bin.tar.gz")).toEqual({
      ...base,
      edition: "ent",
      os: "darwin",
      arch: "arm64",
      fips: true,
    });
    expect(tryParseArtifactName("my-app", "my-app-v2.0.0-rc-1-linux-amd64-bin.tar.gz")?.version).toBe(
      "2.0.0-rc-1",
    );
  });

  test("names that do not follow the template are refused", () => {
    for (const bad of [
      "hello-1.2.3-linux-amd64-bin.tar.gz", // no v
      "hello-v1.2-linux-amd64-bin.tar.gz",
      "hello-v01.2.3-linux-amd64-bin.tar.gz",
      "hello-v1.2.3-linux-amd64.tar.gz",
      "hello-v1.2.3-amd64-bin.tar.gz",
      "other-v1.2.3-linux-amd64-bin.tar.gz",
      "hello-oss-v1.2.3-linux-amd64-bin.tar.gz",
      "hello-v1.2.3-linux-amd64-bin.tar.gz/../x",
      "../hello-v1.2.3-linux-amd64-bin.tar.gz",
      "hello-v1.2.3-Linux-amd64-bin.tar.gz",
      `hello-v1.2.3-${"x".repeat(300)}-amd64-bin.tar.gz`,
    ]) {
      expect(tryParseArtifactName("hello", bad)).toBeUndefined();
    }
    expect(tryParseArtifactName("hello", "nope")).toBeUndefined();
  });

  test("property: every name formatted parses back to the same fields", () => {
    const word = fc.stringMatching(/^[a-z0-9_]{1,8}$/).filter((w) => w !== "fips");
    const pre = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/),
        fc.constantFrom<"oss" | "ent">("oss", "ent"),
        fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99), fc.option(pre, { nil: undefined })),
        word,
        word,
        fc.boolean(),
        (product, edition, [a, b, c, p], os, arch, fips) => {
          const version = `${a}.${b}.${c}${p === undefined ? "" : `-${p}`}`;
          const fields = { product, edition, version, os, arch, fips };
          expect(tryParseArtifactName(product, formatArtifactName(fields))).toEqual(fields);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// The one rule for a name the server stores (server/artifact_store.ts) and publish sends (cmd/admin/publish.ts).
test.each([
  ["hello-v1.2.3-linux-amd64-bin.tar.gz", true],
  ["hello-v1.2.3-linux-amd64-bin.tar.gz.sha256", true],
  ["hello-releases.json.minisig", true],
  ["hello.pub", true],
  ["v1.2.3+build.7_x", true],
  ["a".repeat(255), true],
  ["a".repeat(256), false],
  ["", false],
  [".hidden", false],
  ["-dash", false],
  ["a..b", false],
  ["a/b", false],
  ["a b", false],
] as const)("isStoredName(%p) is %p", (name, want) => {
  expect(isStoredName(name)).toBe(want);
});

describe("upkeep's own executables (product upkeep)", () => {
  test("upkeep-v{version}-{os}-{arch}: no archive suffix, parsed back", () => {
    expect(formatSelfArtifactName("1.2.3", "linux", "amd64")).toBe("upkeep-v1.2.3-linux-amd64");
    expect(tryParseArtifactName(SELF_PRODUCT, "upkeep-v1.2.3-rc.1-darwin-arm64")).toEqual({
      product: "upkeep",
      edition: "oss",
      version: "1.2.3-rc.1",
      os: "darwin",
      arch: "arm64",
      fips: false,
    });
    expect(isSelfExecutableName("upkeep-v1.2.3-linux-amd64")).toBe(true);
  });

  test("only for product upkeep, never ent or FIPS, sidecars and the manifest are not executables", () => {
    expect(tryParseArtifactName("hello", "hello-v1.2.3-linux-amd64")).toBeUndefined();
    for (const name of [
      "upkeep-ent-v1.2.3-linux-amd64",
      "upkeep-v1.2.3-linux-amd64-fips",
      "upkeep-v1.2.3-linux-amd64.minisig",
      "upkeep-v1.2.3-linux-amd64.sha256",
      "upkeep-releases.json",
    ]) {
      expect(isSelfExecutableName(name)).toBe(false);
    }
  });
});
