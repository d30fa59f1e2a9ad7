/**
 * Fuzzing of every core/trust parser: random input never escapes as anything but a coded UpkeepError, and
 * any change to a signature's signed lines makes it fail.
 */
import { describe, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { isUpkeepError } from "../errors.ts";
import { tryParseArtifactName } from "./artifact_name.ts";
import { parseChecksumFile } from "./checksum_file.ts";
import { parseManifest } from "./manifest.ts";
import {
  generateKeyPair,
  parsePublicKey,
  parseSecretKeyFile,
  parseSignature,
  parseTrustedComment,
  signBytes,
  verifyBytes,
} from "./minisign.ts";

const te = new TextEncoder();

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

describe("fuzz: parsers answer with coded errors only", () => {
  const fixtures = join(import.meta.dir, "..", "..", "test", "fixtures", "minisign");
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
