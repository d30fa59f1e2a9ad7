/**
 * Interop with the real minisign, both directions.
 *
 * - Fixtures (test/fixtures/minisign, made by make.sh with Debian's minisign 0.11): run anywhere.
 * - Live round trips with the `minisign` binary and the compiled `dist/upkeep`: skipped when minisign is
 *   missing, except under CI (CI=true), where a missing minisign is a failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSecretKey, writeKeyPair } from "../core/sys/keys.ts";
import { readSignatureFile, signFile, verifyFileSignature } from "../core/sys/signing.ts";
import { blake2b } from "../core/trust/blake2b.ts";
import {
  createSignature,
  formatSignature,
  keyIdHex,
  parsePublicKey,
  parseSecretKeyFile,
  parseSignature,
  publicKeyOfSecret,
  verifyBytes,
} from "../core/trust/minisign.ts";
import { collect, type RunResult, upkeep } from "./cli.ts";

const FIX = join(import.meta.dir, "fixtures", "minisign");
const PASSWORD = "correct horse battery staple";
const fx = (name: string) => join(FIX, name);
const text = (name: string) => readFileSync(fx(name), "utf8");
const pub = (name: string) => parsePublicKey(text(name));
const SLOW = { timeout: 60_000 };

describe("fixtures made by minisign", () => {
  test("public keys parse, with the key id minisign printed in the comment", () => {
    for (const name of ["unencrypted.pub", "encrypted.pub", "other.pub"]) {
      const k = pub(name);
      expect(text(name)).toContain(`minisign public key ${keyIdHex(k.keyId)}`);
    }
  });

  test("minisign's signatures verify: text file, empty file, artifact, encrypted key's", async () => {
    const cases: [string, string, string][] = [
      ["hello.txt", "hello.txt.minisig", "unencrypted.pub"],
      ["empty.bin", "empty.bin.minisig", "unencrypted.pub"],
      [
        "hello-v1.2.3-linux-amd64-bin.tar.gz",
        "hello-v1.2.3-linux-amd64-bin.tar.gz.minisig",
        "unencrypted.pub",
      ],
      ["hello.txt", "hello.txt.encrypted.minisig", "encrypted.pub"],
      ["hello.txt", "hello.txt.other.minisig", "other.pub"],
    ];
    for (const [file, sig, key] of cases) {
      const v = await verifyFileSignature(fx(file), await readSignatureFile(fx(sig)), [pub(key)]);
      expect(v, `${sig}`).toMatchObject({ ok: true, algorithm: "ED", keyId: keyIdHex(pub(key).keyId) });
      if (v.ok)
        expect(v.trustedComment).toMatch(
          new RegExp(`^timestamp:\\d+\\tfile:${file.replaceAll(".", "\\.")}\\thashed$`),
        );
    }
  });

  test("with several trusted keys (rotation), the one with the signature's key id is used", async () => {
    const keys = [pub("other.pub"), pub("encrypted.pub"), pub("unencrypted.pub")];
    const v = await verifyFileSignature(fx("hello.txt"), text("hello.txt.minisig"), keys);
    expect(v).toMatchObject({ ok: true, keyId: keyIdHex(pub("unencrypted.pub").keyId) });
  });

  test("a legacy (-l) signature: refused by default, accepted when allowed", async () => {
    const sig = text("hello.txt.legacy.minisig");
    expect(parseSignature(sig).algorithm).toBe("Ed");
    const refused = await verifyFileSignature(fx("hello.txt"), sig, [pub("unencrypted.pub")]);
    expect(refused).toMatchObject({ ok: false, code: "E_SIGNATURE" });
    if (!refused.ok) expect(refused.reason).toContain("legacy");
    const allowed = await verifyFileSignature(fx("hello.txt"), sig, [pub("unencrypted.pub")], {
      allowLegacy: true,
    });
    expect(allowed).toMatchObject({ ok: true, algorithm: "Ed" });
  });

  test("a custom trusted comment (-t) verifies, but does not name the file, so file checks refuse it", async () => {
    const data = readFileSync(fx("hello.txt"));
    const sig = text("hello.txt.nofile.minisig");
    const env = await verifyBytes(data, sig, [pub("unencrypted.pub")]);
    expect(env.trustedComment).toBe("release 1.2.3");
    await expect(
      verifyBytes(data, sig, [pub("unencrypted.pub")], { expectedFile: "hello.txt" }),
    ).rejects.toThrow(/names no file/);
  });

  test("minisign's unencrypted (-W) secret key loads (zeroed checksum) and signs byte-identically", async () => {
    const sk = await loadSecretKey(fx("unencrypted.key"));
    expect(publicKeyOfSecret(sk)).toEqual(pub("unencrypted.pub"));
    // Ed25519 is deterministic: same key, same file, same trusted comment -> minisign's exact bytes.
    const theirs = text("hello.txt.minisig");
    const comment = parseSignature(theirs).trustedComment;
    const ours = await createSignature(sk, blake2b(readFileSync(fx("hello.txt"))), comment);
    expect(formatSignature(ours)).toBe(theirs);
  });

  test(
    "minisign's encrypted secret key decrypts with the password (scrypt as libsodium) and signs identically",
    async () => {
      const file = parseSecretKeyFile(text("encrypted.key"));
      expect(file).toMatchObject({ kdf: "scrypt", opslimit: 33554432n, memlimit: 1073741824n });
      const sk = await loadSecretKey(fx("encrypted.key"), { password: async () => PASSWORD });
      expect(publicKeyOfSecret(sk)).toEqual(pub("encrypted.pub"));
      const theirs = text("hello.txt.encrypted.minisig");
      const ours = await createSignature(
        sk,
        blake2b(readFileSync(fx("hello.txt"))),
        parseSignature(theirs).trustedComment,
      );
      expect(formatSignature(ours)).toBe(theirs);
    },
    SLOW,
  );

  test("the wrong password is refused with E_KEY", async () => {
    // A key with small scrypt limits (the limits are stored in the key, as minisign does), so this is fast.
    const d = mkdtempSync(join(tmpdir(), "upkeep-wrongpw-"));
    try {
      await writeKeyPair(d, { password: "right", kdf: { opslimit: 524288n, memlimit: 16777216n } });
      await expect(
        loadSecretKey(join(d, "upkeep.key"), { password: async () => "wrong" }),
      ).rejects.toMatchObject({
        code: "E_KEY",
        message: expect.stringContaining("wrong password"),
      });
      expect(
        (await loadSecretKey(join(d, "upkeep.key"), { password: async () => "right" })).seed,
      ).toHaveLength(32);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

// ---- live round trips with the minisign binary ----

const MINISIGN = Bun.which("minisign");
const UNDER_CI = process.env.CI === "true";

if (!MINISIGN && UNDER_CI) {
  test("minisign is installed (required under CI for the live interop tests)", () => {
    throw new Error("minisign not found on PATH: .ci/run installs it; the live interop tests cannot run");
  });
}

function minisign(args: string[], stdin?: string): Promise<RunResult> {
  return collect(
    Bun.spawn([MINISIGN ?? "minisign", ...args], {
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
}

describe.skipIf(!MINISIGN)("live round trip with the minisign binary", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "upkeep-interop-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("upkeep keygen + sign -> minisign -V accepts it and prints our trusted comment", async () => {
    const keys = join(dir, "ours");
    expect((await upkeep(["release", "keygen", "--out-dir", keys, "--unencrypted"])).code).toBe(0);
    const file = join(dir, "hello-v2.0.0-linux-amd64-bin.tar.gz");
    writeFileSync(file, "artifact bytes\n".repeat(1000));
    const s = await upkeep(["release", "sign", "--key", join(keys, "upkeep.key"), file]);
    expect(s.code).toBe(0);
    const v = await minisign(["-V", "-p", join(keys, "upkeep.pub"), "-m", file]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain("Signature and comment signature verified");
    expect(v.stdout).toMatch(
      /Trusted comment: timestamp:\d+\tfile:hello-v2\.0\.0-linux-amd64-bin\.tar\.gz\thashed/,
    );
    // -H: minisign requires a prehashed signature; ours is.
    expect((await minisign(["-V", "-H", "-p", join(keys, "upkeep.pub"), "-m", file])).code).toBe(0);
    // And minisign notices tampering with our signature's file.
    writeFileSync(file, "tampered\n", { flag: "a" });
    expect((await minisign(["-V", "-p", join(keys, "upkeep.pub"), "-m", file])).code).toBe(1);
  });

  test("our public key works with minisign -P (base64 on the command line)", async () => {
    const keys = join(dir, "ours-p");
    await upkeep(["release", "keygen", "--out-dir", keys, "--unencrypted"]);
    const file = join(dir, "p.txt");
    writeFileSync(file, "p\n");
    await upkeep(["release", "sign", "--key", join(keys, "upkeep.key"), file]);
    const b64 = readFileSync(join(keys, "upkeep.pub"), "utf8").split("\n")[1] ?? "";
    expect((await minisign(["-Vm", file, "-P", b64])).code).toBe(0);
  });

  test("minisign -G + -S -> upkeep release verify accepts it (file and base64 --pub)", async () => {
    const pk = join(dir, "theirs.pub");
    const sk = join(dir, "theirs.key");
    expect((await minisign(["-G", "-W", "-p", pk, "-s", sk])).code).toBe(0);
    const file = join(dir, "theirs.bin");
    writeFileSync(
      file,
      new Uint8Array(300_000).map((_, i) => i & 0xff),
    );
    expect((await minisign(["-S", "-s", sk, "-m", file])).code).toBe(0);
    const v = await upkeep(["release", "verify", "--pub", pk, file, "--json"]);
    expect(v.code).toBe(0);
    const out = JSON.parse(v.stdout);
    expect(out).toMatchObject({
      valid: true,
      reason: null,
      code: null,
      key_id: keyIdHex(parsePublicKey(readFileSync(pk, "utf8")).keyId),
    });
    expect(out.trusted_comment).toMatch(/file:theirs\.bin\thashed$/);
    const b64 = readFileSync(pk, "utf8").split("\n")[1] ?? "";
    expect((await upkeep(["release", "verify", "--pub", b64, file])).code).toBe(0);
  });

  test("minisign's secret key signs through upkeep release sign; minisign verifies the result", async () => {
    const pk = join(dir, "m2.pub");
    const sk = join(dir, "m2.key");
    await minisign(["-G", "-W", "-p", pk, "-s", sk]);
    const file = join(dir, "m2.txt");
    writeFileSync(file, "signed by upkeep with minisign's key\n");
    expect((await upkeep(["release", "sign", "--key", sk, file])).code).toBe(0);
    expect((await minisign(["-V", "-p", pk, "-m", file])).code).toBe(0);
  });

  test(
    "an encrypted key written by upkeep is readable by minisign (same scrypt parameters and layout)",
    async () => {
      // Library-level keygen with small scrypt limits, so this test runs fast; minisign reads the limits
      // from the key file, exactly as it does for its own keys.
      const keys = join(dir, "enc");
      await writeKeyPair(keys, { password: "s3cret pass", kdf: { opslimit: 524288n, memlimit: 16777216n } });
      const file = join(dir, "enc.txt");
      writeFileSync(file, "x\n");
      const s = await minisign(["-S", "-s", join(keys, "upkeep.key"), "-m", file], "s3cret pass\n");
      expect(s.code).toBe(0);
      const v = await verifyFileSignature(file, readFileSync(`${file}.minisig`, "utf8"), [
        parsePublicKey(readFileSync(join(keys, "upkeep.pub"), "utf8")),
      ]);
      expect(v.ok).toBe(true);
      const wrong = await minisign(
        ["-S", "-s", join(keys, "upkeep.key"), "-m", file, "-x", `${file}.2`],
        "nope\n",
      );
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr + wrong.stdout).toContain("Wrong password");
    },
    SLOW,
  );

  test(
    "an encrypted key written by minisign is usable by upkeep release sign (UPKEEP_KEY_PASSWORD)",
    async () => {
      const pk = join(dir, "menc.pub");
      const sk = join(dir, "menc.key");
      copyFileSync(fx("encrypted.key"), sk);
      copyFileSync(fx("encrypted.pub"), pk);
      const file = join(dir, "menc.txt");
      writeFileSync(file, "menc\n");
      const s = await upkeep(["release", "sign", "--key", sk, file], {
        env: { UPKEEP_KEY_PASSWORD: PASSWORD },
      });
      expect(s.code).toBe(0);
      expect((await minisign(["-V", "-p", pk, "-m", file])).code).toBe(0);
    },
    SLOW,
  );

  test("signFile (library) and minisign agree on a 5 MiB file", async () => {
    const sk = await loadSecretKey(fx("unencrypted.key"));
    const file = join(dir, "big.bin");
    writeFileSync(
      file,
      new Uint8Array(5 * 1024 * 1024 + 3).map((_, i) => (i * 7) & 0xff),
    );
    writeFileSync(`${file}.minisig`, await signFile(file, sk));
    expect((await minisign(["-V", "-p", fx("unencrypted.pub"), "-m", file])).code).toBe(0);
    expect((await minisign(["-S", "-s", fx("unencrypted.key"), "-m", file, "-x", `${file}.m`])).code).toBe(0);
    const v = await verifyFileSignature(file, readFileSync(`${file}.m`, "utf8"), [pub("unencrypted.pub")]);
    expect(v.ok).toBe(true);
  });
});
