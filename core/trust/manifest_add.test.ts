import { describe, expect, test } from "bun:test";
import { buildManifest } from "./build_manifest.ts";
import { droppedVersions, planAdd } from "./manifest_add.ts";
import { expiryWarning, manifestExpiry } from "./manifest_expiry.ts";

const sha = (c: string) => c.repeat(64);
const art = (v: string, c = "a", arch = "amd64") => ({
  name: `hello-v${v}-linux-${arch}-bin.tar.gz`,
  size: 10,
  sha256: sha(c),
});
const now = new Date("2030-01-01T00:00:00Z");
const base = (artifacts: ReturnType<typeof art>[], extra: { floor?: string; critical?: string[] } = {}) =>
  buildManifest({
    product: "hello",
    serial: 1,
    issued: now,
    expires: new Date(now.getTime() + 86_400_000),
    artifacts,
    ...extra,
  });

describe("planAdd", () => {
  test("keeps every listed artifact, adds new ones, carries floor and critical over", () => {
    const previous = base([art("1.0.0"), art("1.1.0")], { floor: "1.0.0", critical: ["1.1.0"] });
    const p = planAdd({ previous, added: [art("1.2.0"), art("1.1.0", "a", "arm64")] });
    expect(p.artifacts.map((a) => a.name).sort()).toEqual(
      [
        "hello-v1.0.0-linux-amd64-bin.tar.gz",
        "hello-v1.1.0-linux-amd64-bin.tar.gz",
        "hello-v1.1.0-linux-arm64-bin.tar.gz",
        "hello-v1.2.0-linux-amd64-bin.tar.gz",
      ].sort(),
    );
    expect(p).toMatchObject({ floor: "1.0.0", critical: ["1.1.0"], replacedNames: [], unchangedNames: [] });
    expect(p.keptVersions).toEqual(["1.1.0", "1.0.0"]);
  });

  test("the same bytes change nothing; other bytes are refused unless replace", () => {
    const previous = base([art("1.0.0")]);
    expect(planAdd({ previous, added: [art("1.0.0")] }).unchangedNames).toEqual([
      "hello-v1.0.0-linux-amd64-bin.tar.gz",
    ]);
    expect(() => planAdd({ previous, added: [art("1.0.0", "b")] })).toThrow(
      /already in the manifest with other bytes/,
    );
    const p = planAdd({ previous, added: [art("1.0.0", "b")], replace: true });
    expect(p.replacedNames).toEqual(["hello-v1.0.0-linux-amd64-bin.tar.gz"]);
    expect(p.artifacts[0]?.sha256).toBe(sha("b"));
  });

  test("a new floor wins and drops critical flags below it; --critical adds", () => {
    const previous = base([art("1.0.0"), art("2.0.0")], { critical: ["1.0.0"] });
    const p = planAdd({ previous, added: [art("2.1.0")], floor: "2.0.0", critical: ["2.1.0"] });
    expect(p.floor).toBe("2.0.0");
    expect(p.critical).toEqual(["2.1.0"]);
  });

  test("droppedVersions names what a manifest written without --add leaves out", () => {
    expect(droppedVersions(base([art("1.0.0"), art("1.1.0")]), base([art("1.1.0"), art("1.2.0")]))).toEqual([
      "1.0.0",
    ]);
  });
});

describe("manifestExpiry", () => {
  const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
  test("relative wording, soon within 7 days, expired", () => {
    expect(manifestExpiry(at(30 * 86_400_000), now)).toMatchObject({
      relative: "in 30 days",
      soon: false,
      expired: false,
    });
    expect(manifestExpiry(at(7 * 86_400_000), now)).toMatchObject({ soon: true, relative: "in 7 days" });
    expect(manifestExpiry(at(5 * 3_600_000), now).relative).toBe("in 5 hours");
    expect(manifestExpiry(at(-90_000), now)).toMatchObject({ expired: true, relative: "1 minute ago" });
  });
  test("expiryWarning only in the last week or after", () => {
    expect(expiryWarning("hello", at(8 * 86_400_000), now)).toBeUndefined();
    expect(expiryWarning("hello", at(3 * 86_400_000), now)).toContain("expires in 3 days");
    expect(expiryWarning("hello", at(-86_400_000 * 3), now)).toContain("EXPIRED 3 days ago");
  });
});
