/**
 * `upkeep release keygen|sign|verify|manifest` end to end through the compiled dist/upkeep: exit codes,
 * files and modes, --json shapes, and one clear line (never a stack trace) on bad input.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrustedKeys, writeKeyPair } from "../core/sys/keys.ts";
import { verifyArtifactFile, verifyManifestFile } from "../core/sys/verify_artifact.ts";
import { parseManifest } from "../core/trust/manifest.ts";
import { parseSecretKeyFile } from "../core/trust/minisign.ts";
import { keygenIn, type RunResult, UPKEEP as UPKEEP_PATH, upkeep, useTempFolder } from "./cli.ts";
import { tar, tarGz } from "./install_helpers.ts";

const FIX = join(import.meta.dir, "fixtures", "minisign");
const fx = (name: string) => join(FIX, name);
const SLOW = { timeout: 60_000 };
const STACK = /^\s+at .+[:(]\d+/m;

const sub = useTempFolder("release-cli");

/** One line naming the problem and its code, no stack trace. */
function expectCleanError(r: RunResult, exit: number, code: string): void {
  expect(r.code).toBe(exit);
  expect(r.stderr).toContain(`(${code})`);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toContain("E_INTERNAL");
}

/** An unencrypted key pair made by the CLI. */
const keygen = (name: string) => keygenIn(sub(name));

describe("release keygen", () => {
  test("writes upkeep.key (0600) and upkeep.pub; --json names them", async () => {
    const d = sub("kg");
    const r = await upkeep(["release", "keygen", "--out-dir", join(d, "new"), "--unencrypted", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      secret_key: join(d, "new", "upkeep.key"),
      public_key: join(d, "new", "upkeep.pub"),
      encrypted: false,
    });
    expect(out.key_id).toMatch(/^[0-9A-F]{16}$/);
    expect(out.public_key_base64).toMatch(/^RW[A-Za-z0-9+/]{54}$/);
    expect(statSync(out.secret_key).mode & 0o777).toBe(0o600);
    expect(readFileSync(out.public_key, "utf8")).toBe(
      `untrusted comment: minisign public key ${out.key_id}\n${out.public_key_base64}\n`,
    );
    expect(parseSecretKeyFile(readFileSync(out.secret_key, "utf8")).kdf).toBe("none");
  });

  test("refuses to overwrite an existing key pair without --force; --force replaces it", async () => {
    const k = await keygen("kg-exists");
    const before = readFileSync(k.key, "utf8");
    const again = await upkeep(["release", "keygen", "--out-dir", k.dir, "--unencrypted"]);
    expectCleanError(again, 1, "E_EXISTS");
    expect(again.stderr).toContain("--force");
    expect(readFileSync(k.key, "utf8")).toBe(before);
    // Only the public key left: still refused (never half a new pair).
    rmSync(k.key);
    expectCleanError(await upkeep(["release", "keygen", "--out-dir", k.dir, "--unencrypted"]), 1, "E_EXISTS");
    const forced = await upkeep(["release", "keygen", "--out-dir", k.dir, "--unencrypted", "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(k.key, "utf8")).not.toBe(before);
    expect(statSync(k.key).mode & 0o777).toBe(0o600);
    // An --out-dir that is a file is named as such.
    const file = join(k.dir, "a-file");
    writeFileSync(file, "x");
    const notDir = await upkeep(["release", "keygen", "--out-dir", file, "--unencrypted"]);
    expectCleanError(notDir, 1, "E_IO");
    expect(notDir.stderr).toContain(`${file} is not a directory`);
  });

  test("encrypted by default: without a terminal or UPKEEP_KEY_PASSWORD it says how to give a password", async () => {
    const r = await upkeep(["release", "keygen", "--out-dir", sub("kg-nopass")], {
      env: { UPKEEP_KEY_PASSWORD: "" },
    });
    expectCleanError(r, 2, "E_KEY");
    expect(r.stderr).toContain("UPKEEP_KEY_PASSWORD");
  });

  test(
    "encrypted with UPKEEP_KEY_PASSWORD: signs with the right password, refuses the wrong one",
    async () => {
      const d = sub("kg-enc");
      const env = { UPKEEP_KEY_PASSWORD: "pass phrase" };
      const g = await upkeep(["release", "keygen", "--out-dir", d, "--json"], { env });
      expect(g.code).toBe(0);
      expect(JSON.parse(g.stdout).encrypted).toBe(true);
      const key = join(d, "upkeep.key");
      expect(parseSecretKeyFile(readFileSync(key, "utf8"))).toMatchObject({
        kdf: "scrypt",
        opslimit: 33554432n,
        memlimit: 1073741824n,
      });
      expect(statSync(key).mode & 0o777).toBe(0o600);
      const file = join(d, "f.txt");
      writeFileSync(file, "f\n");
      expect((await upkeep(["release", "sign", "--key", key, file], { env })).code).toBe(0);
      expect((await upkeep(["release", "verify", "--pub", join(d, "upkeep.pub"), file])).code).toBe(0);
      // The wrong password, on a key with small scrypt limits so the test stays fast.
      const cheap = sub("kg-enc-cheap");
      await writeKeyPair(cheap, { password: "right", kdf: { opslimit: 524288n, memlimit: 16777216n } });
      const wrong = await upkeep(["release", "sign", "--key", join(cheap, "upkeep.key"), file], {
        env: { UPKEEP_KEY_PASSWORD: "nope" },
      });
      expectCleanError(wrong, 1, "E_KEY");
      expect(wrong.stderr).toContain("wrong password");
    },
    SLOW,
  );
});

describe("release sign", () => {
  test("FILE.minisig beside each file (and FILE.sha256 with --sha256); --json lists them", async () => {
    const k = await keygen("sign-key");
    const d = sub("sign");
    const files = ["a.bin", "b.bin"].map((n) => join(d, n));
    writeFileSync(files[0] as string, "a");
    writeFileSync(files[1] as string, "");
    const r = await upkeep(["release", "sign", "--key", k.key, "--sha256", "--json", ...files]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.signed.map((s: { signature: string }) => s.signature)).toEqual(
      files.map((f) => `${f}.minisig`),
    );
    for (const f of files) {
      const sig = readFileSync(`${f}.minisig`, "utf8");
      expect(sig).toMatch(
        /^untrusted comment: .*\nRU[A-Za-z0-9+/]{97}=\ntrusted comment: timestamp:\d+\tfile:[ab]\.bin\thashed\n[A-Za-z0-9+/]{86}==\n$/,
      );
      expect((await upkeep(["release", "verify", "--pub", k.pub, f])).code).toBe(0);
    }
    expect(readFileSync(`${files[0]}.sha256`, "utf8")).toBe(
      "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  a.bin\n",
    );
  });

  test("a missing file is a usage error (exit 2), before the key is opened", async () => {
    const k = await keygen("sign-missing");
    expectCleanError(await upkeep(["release", "sign", "--key", k.key, join(k.dir, "nope.bin")]), 2, "E_IO");
  });

  test("a missing or malformed secret key: one line, no stack trace", async () => {
    const d = sub("sign-badkey");
    const file = join(d, "x");
    writeFileSync(file, "x");
    expectCleanError(await upkeep(["release", "sign", "--key", join(d, "none.key"), file]), 2, "E_KEY");
    for (const [name, content] of [
      ["garbage.key", "garbage"],
      ["pub-as-secret.key", readFileSync(fx("unencrypted.pub"), "utf8")],
      ["truncated.key", readFileSync(fx("unencrypted.key"), "utf8").slice(0, 100)],
      ["binary.key", "\u0000\u0001\u0002\uffff"],
    ]) {
      writeFileSync(join(d, name as string), content as string);
      expectCleanError(await upkeep(["release", "sign", "--key", join(d, name as string), file]), 1, "E_KEY");
    }
  });
});

describe("release verify", () => {
  test("valid: exit 0, the key id and trusted comment; --json shape", async () => {
    const r = await upkeep(["release", "verify", "--pub", fx("unencrypted.pub"), fx("hello.txt")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^valid: .*hello\.txt signed by key [0-9A-F]{16}\ntrusted comment: timestamp:\d+\tfile:hello\.txt\thashed\n$/,
    );
    const j = await upkeep(["release", "verify", "--pub", fx("unencrypted.pub"), fx("hello.txt"), "--json"]);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(Object.keys(out).sort()).toEqual(["code", "key_id", "reason", "trusted_comment", "valid"]);
    expect(out).toMatchObject({ valid: true, reason: null, code: null });
  });

  test("--pub takes the base64 key itself, and is repeatable for key rotation", async () => {
    const b64 = (readFileSync(fx("unencrypted.pub"), "utf8").split("\n")[1] ?? "").trim();
    expect((await upkeep(["release", "verify", "--pub", b64, fx("hello.txt")])).code).toBe(0);
    const both = await upkeep(["release", "verify", "--pub", fx("other.pub"), "--pub", b64, fx("hello.txt")]);
    expect(both.code).toBe(0);
  });

  const invalid: [string, (d: string) => string[], string, RegExp][] = [
    [
      "tampered file",
      (d) => {
        writeFileSync(join(d, "hello.txt"), "tampered\n");
        return [join(d, "hello.txt")];
      },
      "E_SIGNATURE",
      /not what was signed/,
    ],
    ["wrong key", (d) => ["--pub", fx("other.pub"), join(d, "hello.txt")], "E_KEY", /not trusted/],
    [
      "wrong file name",
      (d) => {
        copyFileSync(fx("hello.txt"), join(d, "renamed.txt"));
        return [join(d, "renamed.txt"), "--sig", fx("hello.txt.minisig")];
      },
      "E_SIGNATURE",
      /for the file "hello\.txt"/,
    ],
    [
      "malformed signature",
      (d) => {
        writeFileSync(join(d, "hello.txt.minisig"), "untrusted comment: x\nnot base64\n");
        return [join(d, "hello.txt")];
      },
      "E_MALFORMED",
      /truncated|base64/,
    ],
    [
      "legacy signature",
      (d) => [join(d, "hello.txt"), "--sig", fx("hello.txt.legacy.minisig")],
      "E_SIGNATURE",
      /legacy/,
    ],
    [
      "missing signature file",
      (d) => [join(d, "hello.txt"), "--sig", join(d, "none.minisig")],
      "E_IO",
      /no such file/,
    ],
  ];
  for (const [what, setup, code, reason] of invalid) {
    test(`invalid (${what}): exit 1 with the reason; --json too`, async () => {
      const d = sub(`verify-${what.replaceAll(" ", "-")}`);
      copyFileSync(fx("hello.txt"), join(d, "hello.txt"));
      copyFileSync(fx("hello.txt.minisig"), join(d, "hello.txt.minisig"));
      const args = setup(d);
      const pub = args.includes("--pub") ? [] : ["--pub", fx("unencrypted.pub")];
      const r = await upkeep(["release", "verify", ...pub, ...args]);
      expectCleanError(r, 1, code);
      expect(r.stderr).toMatch(reason);
      expect(r.stdout).toBe("");
      const j = await upkeep(["release", "verify", ...pub, ...args, "--json"]);
      expect(j.code).toBe(1);
      const out = JSON.parse(j.stdout);
      expect(out).toMatchObject({ valid: false, code, trusted_comment: null });
      expect(out.reason).toMatch(reason);
    });
  }

  test("--allow-legacy accepts a legacy signature", async () => {
    const r = await upkeep([
      "release",
      "verify",
      "--pub",
      fx("unencrypted.pub"),
      fx("hello.txt"),
      "--sig",
      fx("hello.txt.legacy.minisig"),
      "--allow-legacy",
    ]);
    expect(r.code).toBe(0);
  });

  test("bad usage exits 2: no --pub, no file, missing file, malformed or missing public key", async () => {
    expect((await upkeep(["release", "verify", fx("hello.txt")])).code).toBe(2);
    expect((await upkeep(["release", "verify", "--pub", fx("unencrypted.pub")])).code).toBe(2);
    expectCleanError(
      await upkeep([
        "release",
        "verify",
        "--pub",
        fx("unencrypted.pub"),
        join(sub("verify-missing"), "nope"),
      ]),
      2,
      "E_IO",
    );
    const d = sub("verify-badpub");
    const cases = [
      "garbage",
      "untrusted comment: x\nRWQ!!!!\n",
      "RWQ",
      "\u0000".repeat(10),
      "x".repeat(100_000),
    ];
    for (const [i, content] of cases.entries()) {
      writeFileSync(join(d, `${i}.pub`), content);
      expectCleanError(
        await upkeep(["release", "verify", "--pub", join(d, `${i}.pub`), fx("hello.txt")]),
        2,
        "E_KEY",
      );
    }
    expectCleanError(
      await upkeep(["release", "verify", "--pub", join(d, "none.pub"), fx("hello.txt")]),
      2,
      "E_KEY",
    );
  });

  test("no stack trace for any malformed signature file", async () => {
    const d = sub("verify-malformed");
    copyFileSync(fx("hello.txt"), join(d, "hello.txt"));
    const good = readFileSync(fx("hello.txt.minisig"), "utf8");
    const sigs = [
      "",
      "\n\n\n\n",
      good.slice(0, 60),
      good.replace("RUT", "RUT="),
      good.replaceAll("\n", "\r"),
      `${"untrusted comment: ".padEnd(5000, "x")}\n`,
      "\u00ff\u00fe binary \u0000",
      good + good,
      "x".repeat(20_000),
      // Invalid UTF-8 bytes.
      new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0a]),
    ];
    for (const [i, s] of sigs.entries()) {
      const sig = join(d, `${i}.minisig`);
      writeFileSync(sig, s);
      const r = await upkeep([
        "release",
        "verify",
        "--pub",
        fx("unencrypted.pub"),
        join(d, "hello.txt"),
        "--sig",
        sig,
      ]);
      expect(r.code, `signature #${i}`).toBe(1);
      expectCleanError(r, 1, "E_MALFORMED");
    }
  });
});

describe("release manifest", () => {
  const names = [
    "hello-v1.0.0-linux-amd64-bin.tar.gz",
    "hello-v1.1.0-linux-amd64-bin.tar.gz",
    "hello-v1.1.0-linux-arm64-bin.tar.gz",
    "hello-ent-v1.1.0-linux-amd64-fips-bin.tar.gz",
  ];

  /** Small real tarballs: `artifact I` repeated I+1 times in one file. */
  const archive = (i: number) =>
    tarGz(tar.file(`hello/bin/hello`, `artifact ${i}\n`.repeat(i + 1), 0o755), tar.end());

  /** `release manifest` of product hello, signed with `key`, written to `out`. */
  const manifest = (key: string, out: string, args: string[]) =>
    upkeep(["release", "manifest", "--key", key, "--product", "hello", "--out", out, ...args]);

  async function artifacts(name: string): Promise<{ d: string; files: string[] }> {
    const d = sub(name);
    const files = names.map((n, i) => {
      const p = join(d, n);
      writeFileSync(p, archive(i));
      return p;
    });
    return { d, files };
  }

  test("writes NAME-releases.json and its .minisig; hosts' library accepts both and the artifacts", async () => {
    const k = await keygen("manifest-key");
    const { d, files } = await artifacts("manifest");
    const out = join(d, "out");
    const r = await manifest(k.key, out, [
      "--floor",
      "1.1.0",
      "--expires",
      "48h",
      "--serial",
      "42",
      "--critical",
      "v1.1.0",
      "--json",
      ...files,
    ]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      manifest: join(out, "hello-releases.json"),
      signature: join(out, "hello-releases.json.minisig"),
      serial: 42,
      floor: "1.1.0",
      versions: ["1.1.0", "1.0.0"],
    });
    const m = parseManifest(readFileSync(info.manifest, "utf8"), { product: "hello" });
    expect(m.releases[0]).toMatchObject({ version: "1.1.0", critical: true });
    expect(m.releases[0]?.artifacts).toHaveLength(3);
    expect(m.releases[1]?.artifacts[0]).toEqual({
      name: names[0] as string,
      os: "linux",
      arch: "amd64",
      edition: "oss",
      fips: false,
      size: archive(0).length,
      sha256: new Bun.CryptoHasher("sha256").update(archive(0)).digest("hex"),
      // What it decompresses to: header, data block, end marker.
      unpacked_size: 512 + 512 + 1024,
    });
    const ttl = Date.parse(m.expires) - Date.parse(m.issued);
    expect(ttl).toBe(48 * 3600 * 1000);
    expect(readFileSync(info.signature, "utf8")).toContain("\tfile:hello-releases.json\thashed\n");

    const keys = await loadTrustedKeys([k.pub]);
    const now = new Date();
    const verdict = await verifyManifestFile({
      path: info.manifest,
      trustedKeys: keys,
      product: "hello",
      now,
      lastSerial: 41,
    });
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    // Sign the artifacts too, then the host-side check passes for one listed above the floor...
    expect((await upkeep(["release", "sign", "--key", k.key, ...files])).code).toBe(0);
    const check = (i: number) =>
      verifyArtifactFile({
        path: files[i] as string,
        trustedKeys: keys,
        manifest: verdict.manifest,
        expectedName: names[i] as string,
        now,
      });
    expect(await check(2)).toMatchObject({ ok: true, release: { version: "1.1.0", critical: true } });
    // ...and refuses the one below it.
    expect(await check(0)).toMatchObject({ ok: false, code: "E_BELOW_FLOOR" });
  });

  test("default serial is now in seconds and default expiry 720h", async () => {
    const k = await keygen("manifest-defaults");
    const { d, files } = await artifacts("manifest-defaults");
    const before = Math.floor(Date.now() / 1000);
    const r = await manifest(k.key, d, files);
    expect(r.code).toBe(0);
    const m = parseManifest(readFileSync(join(d, "hello-releases.json"), "utf8"));
    expect(m.serial).toBeGreaterThanOrEqual(before);
    expect(m.serial).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(Date.parse(m.expires) - Date.parse(m.issued)).toBe(720 * 3600 * 1000);
    expect(m.floor).toBeNull();
  });

  test("the serial only goes up: a new manifest beats the one in --out; a lower --serial is refused", async () => {
    const k = await keygen("manifest-serial");
    const { d, files } = await artifacts("manifest-serial");
    const make = (extra: string[]) => manifest(k.key, d, [...extra, ...files]);
    expect((await make(["--serial", "99999999999"])).code).toBe(0);
    const again = await make([]);
    expect(again.code).toBe(0);
    expect(parseManifest(readFileSync(join(d, "hello-releases.json"), "utf8")).serial).toBe(100000000000);
    const lower = await make(["--serial", "5"]);
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain("--serial 5: not above the serial 100000000000");
    expect(parseManifest(readFileSync(join(d, "hello-releases.json"), "utf8")).serial).toBe(100000000000);
  });

  test("an artifact that is not gzip is refused (exit 2, nothing written); --no-unpacked-size leaves the field out", async () => {
    const k = await keygen("manifest-gzip");
    const { d, files } = await artifacts("manifest-gzip");
    const out = join(d, "out");
    const make = (extra: string[], list = files) => manifest(k.key, out, [...extra, ...list]);
    const plain = join(d, "hello-v2.0.0-linux-amd64-bin.tar.gz");
    writeFileSync(plain, "not a tarball\n");
    const r = await make([], [...files, plain]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${plain} is not a gzip-compressed tarball`);
    expect(r.stderr).not.toMatch(STACK);
    expect(() => statSync(join(out, "hello-releases.json"))).toThrow();
    // For hosts whose upkeep predates the field (they refuse unknown fields): left out, nothing read.
    expect((await make(["--no-unpacked-size"], [...files, plain])).code).toBe(0);
    const m = parseManifest(readFileSync(join(out, "hello-releases.json"), "utf8"));
    expect(m.releases.flatMap((x) => x.artifacts).some((a) => "unpacked_size" in a)).toBe(false);
  });

  test("bad input is a usage error (exit 2) naming it; nothing is written", async () => {
    const k = await keygen("manifest-bad");
    const { d, files } = await artifacts("manifest-bad");
    const stray = join(d, "hello-1.0.0.tar.gz");
    writeFileSync(stray, "x");
    const cases: [string[], RegExp][] = [
      [[...files, stray], /not an artifact of hello/],
      [["--expires", "soon", ...files], /--expires/],
      [["--serial", "-3", ...files], /--serial/],
      [["--critical", "9.9.9", ...files], /--critical 9\.9\.9/],
      [["--floor", "banana", ...files], /floor/],
      [["--floor", "3.0.0", ...files], /above every version/],
      [["--expires", "1s", ...files], /--expires 1s: at least 1h/],
      [["--expires", "100000000h", ...files], /at most 100 years/],
      [
        ["--floor", "1.1.0", "--critical", "1.0.0", ...files],
        /--critical 1\.0\.0 is below the floor 1\.1\.0/,
      ],
      [[join(d, "missing-v1.0.0-linux-amd64-bin.tar.gz")], /no such file/],
    ];
    for (const [args, message] of cases) {
      const r = await manifest(k.key, join(d, "out"), args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK);
    }
    expect(() => statSync(join(d, "out", "hello-releases.json"))).toThrow();
    // Another product's artifacts.
    const other = await upkeep([
      "release",
      "manifest",
      "--key",
      k.key,
      "--product",
      "other",
      "--out",
      d,
      ...files,
    ]);
    expect(other.code).toBe(2);
  });
});

describe("hashing backends", () => {
  test("verify gives the same answer with libsodium's BLAKE2b and the built-in one", async () => {
    const k = await keygen("backends");
    const file = join(sub("backends"), "big.bin");
    writeFileSync(
      file,
      new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 131) & 0xff),
    );
    expect(
      (await upkeep(["release", "sign", "--key", k.key, file], { env: { UPKEEP_LIBSODIUM: "0" } })).code,
    ).toBe(0);
    for (const env of [{}, { UPKEEP_LIBSODIUM: "0" }] as Record<string, string>[]) {
      expect((await upkeep(["release", "verify", "--pub", k.pub, file], { env })).code).toBe(0);
    }
    writeFileSync(file, "x", { flag: "a" });
    for (const env of [{}, { UPKEEP_LIBSODIUM: "0" }] as Record<string, string>[]) {
      expect((await upkeep(["release", "verify", "--pub", k.pub, file], { env })).code).toBe(1);
    }
  });
});

const TMUX = Bun.which("tmux");

describe.skipIf(!TMUX)("password prompt on a terminal", () => {
  async function tmux(...args: string[]): Promise<string> {
    const p = Bun.spawn([TMUX ?? "tmux", ...args], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    await p.exited;
    return out;
  }

  async function waitFor(session: string, text: string, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const screen = await tmux("capture-pane", "-t", session, "-p");
      if (screen.includes(text)) return screen;
      if (Date.now() > end) throw new Error(`"${text}" did not appear; screen:\n${screen}`);
      await Bun.sleep(100);
    }
  }

  test(
    "keygen asks twice and refuses a mismatch; sign asks once; nothing is echoed",
    async () => {
      const d = sub("tty");
      // A key with small scrypt limits, so the prompt, not the key derivation, is what this test spends on.
      await writeKeyPair(join(d, "k"), {
        password: "tty secret",
        kdf: { opslimit: 524288n, memlimit: 16777216n },
      });
      const session = `upkeep-release-${process.pid}`;
      const done = join(d, "done");
      const env = "env -u UPKEEP_KEY_PASSWORD";
      const script = [
        `${env} ${UPKEEP_PATH} release keygen --out-dir ${d}/new; echo "keygen=$?" >> ${done}`,
        `printf x > ${d}/f; ${env} ${UPKEEP_PATH} release sign --key ${d}/k/upkeep.key ${d}/f; echo "sign=$?" >> ${done}`,
        "sleep 60",
      ].join("; ");
      await tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "30", script);
      try {
        await waitFor(session, "Password for the new secret key:");
        await tmux("send-keys", "-t", session, "first try", "Enter");
        await waitFor(session, "Password (again):");
        await tmux("send-keys", "-t", session, "second try", "Enter");
        await waitFor(session, "the passwords do not match");
        await waitFor(session, `Password for secret key ${d}/k/upkeep.key:`);
        await tmux("send-keys", "-t", session, "tty secret", "Enter");
        const screen = await waitFor(session, "signed ");
        for (const secret of ["first try", "second try", "tty secret"]) expect(screen).not.toContain(secret);
        const end = Date.now() + 20_000;
        while (!readFileSafe(done).includes("sign=") && Date.now() < end) await Bun.sleep(100);
        expect(readFileSafe(done)).toBe("keygen=2\nsign=0\n");
      } finally {
        await tmux("kill-session", "-t", session);
      }
      expect(() => statSync(join(d, "new", "upkeep.key"))).toThrow();
      expect(
        (await upkeep(["release", "verify", "--pub", join(d, "k", "upkeep.pub"), join(d, "f")])).code,
      ).toBe(0);
    },
    SLOW,
  );
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
