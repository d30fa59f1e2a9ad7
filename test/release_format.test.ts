/**
 * core/trust formats in-process: BLAKE2b vectors, minisign parsing and serialisation, scrypt parameters,
 * artifact names, manifests, and fuzzing of every parser (random input never escapes as anything but a
 * coded UpkeepError).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { isUpkeepError, UpkeepError } from "../core/errors.ts";
import {
  type ArtifactName,
  formatArtifactName,
  parseArtifactName,
  tryParseArtifactName,
} from "../core/trust/artifact_name.ts";
import { Blake2b, blake2b } from "../core/trust/blake2b.ts";
import { formatChecksumFile, parseChecksumFile } from "../core/trust/checksum_file.ts";
import { decodeBase64, encodeBase64, toHex } from "../core/trust/encoding.ts";
import {
  buildManifest,
  checkFreshness,
  findArtifact,
  findRelease,
  installableReleases,
  type Manifest,
  parseManifest,
  serializeManifest,
} from "../core/trust/manifest.ts";
import {
  createSignature,
  defaultTrustedComment,
  formatPublicKey,
  formatSecretKey,
  formatSignature,
  generateKeyPair,
  keyIdHex,
  openSecretKey,
  parsePublicKey,
  parseSecretKeyFile,
  parseSignature,
  parseTrustedComment,
  scryptParams,
  signBytes,
  verifyBytes,
} from "../core/trust/minisign.ts";

const te = new TextEncoder();
const hex = (b: Uint8Array) => toHex(b);

/** Runs `f`; passes if it returns or throws an UpkeepError with a code, fails on anything else. */
function onlyCodedErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (isUpkeepError(e) && typeof e.code === "string" && e.code.startsWith("E_")) return true;
    throw e;
  }
}

async function onlyCodedErrorsAsync(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if (isUpkeepError(e) && e.code.startsWith("E_")) return true;
    throw e;
  }
}

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

describe("minisign formats", () => {
  test("key ids print like minisign: the little-endian integer in upper-case hex", () => {
    expect(keyIdHex(new Uint8Array([0x9d, 0x21, 0x66, 0xd5, 0xf0, 0x86, 0xfd, 0x35]))).toBe(
      "35FD86F0D566219D",
    );
  });

  test("public key: file and bare base64 parse to the same key; formatting round-trips", async () => {
    const { publicKey } = await generateKeyPair();
    const file = formatPublicKey(publicKey);
    expect(file).toMatch(/^untrusted comment: minisign public key [0-9A-F]{16}\nRW[A-Za-z0-9+/]{54}\n$/);
    const bare = file.split("\n")[1] ?? "";
    expect(parsePublicKey(file)).toEqual(publicKey);
    expect(parsePublicKey(bare)).toEqual(publicKey);
    expect(parsePublicKey(`${bare}\n`)).toEqual(publicKey);
    expect(parsePublicKey(file.replaceAll("\n", "\r\n"))).toEqual(publicKey);
  });

  test("signature: format and parse round-trip; the default trusted comment is minisign's", async () => {
    const { secretKey, publicKey } = await generateKeyPair();
    const text = await signBytes(secretKey, te.encode("data"), "f.bin", 1700000000.9);
    const sig = parseSignature(text);
    expect(sig.algorithm).toBe("ED");
    expect(sig.trustedComment).toBe("timestamp:1700000000\tfile:f.bin\thashed");
    expect(formatSignature(sig)).toBe(text);
    const env = await verifyBytes(te.encode("data"), text, [publicKey], { expectedFile: "f.bin" });
    expect(env.keyId).toBe(keyIdHex(publicKey.keyId));
    expect(env.comment.fields.get("file")).toBe("f.bin");
    expect(env.comment.flags).toEqual(["hashed"]);
  });

  test("trusted comment fields", () => {
    const c = parseTrustedComment(defaultTrustedComment("a b.tar.gz", 12));
    expect(Object.fromEntries(c.fields)).toEqual({ timestamp: "12", file: "a b.tar.gz" });
    expect(() => parseTrustedComment("file:a\tfile:b")).toThrow(/repeats/);
    expect(parseTrustedComment("file:x:y").fields.get("file")).toBe("x:y");
  });

  test("refuses to sign a trusted comment minisign could not read back", async () => {
    const { secretKey } = await generateKeyPair();
    const digest = blake2b(te.encode("x"));
    await expect(createSignature(secretKey, digest, "a\nb")).rejects.toThrow(/single line/);
    await expect(createSignature(secretKey, digest, "x".repeat(8174))).rejects.toThrow(/longer than/);
    expect(await createSignature(secretKey, digest, "x".repeat(8173))).toBeDefined();
  });

  test("secret key: unencrypted and encrypted round-trip; the wrong keystream is a wrong password", async () => {
    const { secretKey } = await generateKeyPair();
    const plain = parseSecretKeyFile(formatSecretKey(secretKey));
    expect(plain.kdf).toBe("none");
    expect(await openSecretKey(plain)).toEqual(secretKey);
    const keystream = new Uint8Array(104).map((_, i) => i * 13);
    const enc = formatSecretKey(secretKey, {
      salt: new Uint8Array(32).fill(7),
      opslimit: 1n,
      memlimit: 2n,
      keystream,
    });
    const parsed = parseSecretKeyFile(enc);
    expect(parsed.kdf).toBe("scrypt");
    expect(parsed.opslimit).toBe(1n);
    expect(parsed.memlimit).toBe(2n);
    expect(await openSecretKey(parsed, keystream)).toEqual(secretKey);
    const wrong = keystream.slice();
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    await expect(openSecretKey(parsed, wrong)).rejects.toThrow(/wrong password/);
  });

  test("secret key: a corrupted unencrypted key is refused (checksum, or public half vs seed)", async () => {
    const { secretKey } = await generateKeyPair();
    const text = formatSecretKey(secretKey);
    const raw = decodeBase64(text.split("\n")[1] ?? "", 158, "k");
    raw[54 + 8 + 40] = (raw[54 + 8 + 40] ?? 0) ^ 1; // a byte of the public half
    const bad = `untrusted comment: x\n${encodeBase64(raw)}\n`;
    await expect(openSecretKey(parseSecretKeyFile(bad))).rejects.toThrow(/checksum/);
    raw.fill(0, 54 + 72); // zero checksum, as minisign -W writes: then the seed/public check catches it
    const zeroed = `untrusted comment: x\n${encodeBase64(raw)}\n`;
    await expect(openSecretKey(parseSecretKeyFile(zeroed))).rejects.toThrow(/does not match/);
  });

  test("scrypt parameters follow libsodium's pickparams", () => {
    // minisign's defaults (OPSLIMIT/MEMLIMIT_SENSITIVE): N = 2^20, r = 8, p = 1.
    expect(scryptParams(33554432n, 1073741824n)).toEqual({ N: 2 ** 20, r: 8, p: 1 });
    // Interactive limits: N = 2^14.
    expect(scryptParams(524288n, 16777216n)).toEqual({ N: 2 ** 14, r: 8, p: 1 });
    // opslimit-bound branch: p = 1, N from opslimit.
    expect(scryptParams(32768n, 1n << 30n)).toEqual({ N: 2 ** 10, r: 8, p: 1 });
    // Absurd limits from a hostile key file are refused, not run.
    expect(() => scryptParams(1n << 62n, 1n << 62n)).toThrow(/unsupported key derivation/);
    // Tiny limits: libsodium still derives (N = 2, p = 512), and so do we.
    expect(scryptParams(0n, 0n)).toEqual({ N: 2, r: 8, p: 512 });
  });
});

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
    expect(parseArtifactName("hello", "hello-ent-v1.2.3-darwin-arm64-fips-bin.tar.gz")).toEqual({
      ...base,
      edition: "ent",
      os: "darwin",
      arch: "arm64",
      fips: true,
    });
    expect(parseArtifactName("my-app", "my-app-v2.0.0-rc-1-linux-amd64-bin.tar.gz").version).toBe(
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
    expect(() => parseArtifactName("hello", "nope")).toThrow(/not an artifact name/);
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
          expect(parseArtifactName(product, formatArtifactName(fields))).toEqual(fields);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe(".sha256 files", () => {
  test("sha256sum format in and out; another file's line is refused", () => {
    const sum = "a".repeat(64);
    expect(formatChecksumFile(sum, "f.tar.gz")).toBe(`${sum}  f.tar.gz\n`);
    expect(parseChecksumFile(`${sum}  f.tar.gz\n`, "f.tar.gz")).toBe(sum);
    expect(parseChecksumFile(`${sum.toUpperCase()} *f.tar.gz`, "f.tar.gz")).toBe(sum);
    expect(() => parseChecksumFile(`${sum}  g.tar.gz\n`, "f.tar.gz")).toThrow(/names "g.tar.gz"/);
    expect(() => parseChecksumFile(`${sum}\n${sum}  f.tar.gz`, "f.tar.gz")).toThrow(UpkeepError);
  });
});

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

describe("fuzz: parsers answer with coded errors only", () => {
  const fixtures = join(import.meta.dir, "fixtures", "minisign");
  const keyLine = readFileSync(join(fixtures, "unencrypted.pub"), "utf8").split("\n")[1] ?? "";
  const validSig = readFileSync(join(fixtures, "hello.txt.minisig"), "utf8");

  test("random strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        onlyCodedErrors(() => parseSignature(s));
        onlyCodedErrors(() => parsePublicKey(s));
        onlyCodedErrors(() => parseSecretKeyFile(s));
        onlyCodedErrors(() => parseManifest(s));
        onlyCodedErrors(() => parseManifest(s, { product: "hello" }));
        onlyCodedErrors(() => parseTrustedComment(s));
        onlyCodedErrors(() => parseChecksumFile(s, "x"));
        onlyCodedErrors(() => tryParseArtifactName("hello", s));
        return true;
      }),
      { numRuns: 1000 },
    );
  });

  test("random bytes, decoded leniently (as a host would read a file)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        const s = new TextDecoder().decode(b);
        onlyCodedErrors(() => parseSignature(s));
        onlyCodedErrors(() => parsePublicKey(s));
        onlyCodedErrors(() => parseSecretKeyFile(s));
        onlyCodedErrors(() => parseManifest(s));
        return true;
      }),
      { numRuns: 1000 },
    );
  });

  test("structured near-misses: lines of a real signature, shuffled, cut and spliced", () => {
    const lines = validSig.split("\n");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...lines), fc.string({ maxLength: 120 }), fc.constant(keyLine)), {
          maxLength: 7,
        }),
        fc.constantFrom("\n", "\r\n", ""),
        (parts, sep) => onlyCodedErrors(() => parseSignature(parts.join(sep))),
      ),
      { numRuns: 1000 },
    );
  });

  test("random JSON values as manifests", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) =>
        onlyCodedErrors(() => parseManifest(JSON.stringify(v))),
      ),
      { numRuns: 500 },
    );
  });

  test("any change to a signature's signed lines makes it fail, with a code", async () => {
    const { secretKey, publicKey } = await generateKeyPair();
    const data = te.encode("payload");
    const text = await signBytes(secretKey, data, "p.bin", 1700000000);
    const firstLineEnd = text.indexOf("\n") + 1;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: firstLineEnd, max: text.length - 1 }),
        fc.integer({ min: 32, max: 126 }),
        async (pos, code) => {
          if (text.charCodeAt(pos) === code) return true;
          const mutated = text.slice(0, pos) + String.fromCharCode(code) + text.slice(pos + 1);
          let ok = false;
          await onlyCodedErrorsAsync(async () => {
            await verifyBytes(data, mutated, [publicKey], { expectedFile: "p.bin" });
            ok = true;
          });
          return !ok;
        },
      ),
      { numRuns: 300 },
    );
  });
});
