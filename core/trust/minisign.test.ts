import { describe, expect, test } from "bun:test";
import { blake2b } from "./blake2b.ts";
import { decodeBase64, encodeBase64 } from "./encoding.ts";
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
} from "./minisign.ts";

const te = new TextEncoder();

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
