/**
 * Every refusal of the trust library, each its own test, through the entry points agent, tools and serve
 * use (core/sys/verify_artifact.ts, core/sys/signing.ts). A refusal is `{ ok: false, code, reason }`;
 * nothing here may throw.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSecretKey } from "../sys/keys.ts";
import { readSignatureFile, signFile, verifyFileSignature } from "../sys/signing.ts";
import { verifyArtifactFile, verifyManifestFile } from "../sys/verify_artifact.ts";
import { buildManifest } from "./build_manifest.ts";
import { decodeBase64, encodeBase64, encodeUtf8 } from "./encoding.ts";
import { type Manifest, manifestFileName, serializeManifest } from "./manifest.ts";
import {
  generateKeyPair,
  type PublicKey,
  parsePublicKey,
  parseSignature,
  type SecretKey,
  signBytes,
} from "./minisign.ts";
import { verifyArtifact } from "./verify_release.ts";

const FIX = join(import.meta.dir, "..", "..", "test", "fixtures", "minisign");
const fx = (name: string) => join(FIX, name);
const fixtureText = (name: string) => readFileSync(fx(name), "utf8");
const TRUSTED = parsePublicKey(fixtureText("unencrypted.pub"));
const HELLO_SIG = fixtureText("hello.txt.minisig");

const NOW = new Date("2030-06-01T00:00:00Z");
const PRODUCT = "hello";
const V1 = "hello-v1.0.0-linux-amd64-bin.tar.gz";
const V2 = "hello-v2.0.0-linux-amd64-bin.tar.gz";
const V2_ARM = "hello-v2.0.0-linux-arm64-bin.tar.gz";

let dir = "";
let sk: SecretKey;
let keys: PublicKey[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "upkeep-refusals-"));
  sk = await loadSecretKey(fx("unencrypted.key"));
  keys = [TRUSTED];
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory with hello.txt and minisign's signature of it. */
function helloCase(name: string): { file: string; sig: string } {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const file = join(d, "hello.txt");
  copyFileSync(fx("hello.txt"), file);
  return { file, sig: HELLO_SIG };
}

async function expectRefusal(
  p: Promise<{ ok: boolean; code?: string; reason?: string }>,
  code: string,
  reason?: RegExp,
) {
  const v = await p;
  expect(v.ok).toBe(false);
  expect(v.code).toBe(code);
  if (reason) expect(v.reason).toMatch(reason);
}

/** Replaces line `i` (0-based) of a signature. */
function withLine(sig: string, i: number, line: string): string {
  const ls = sig.split("\n");
  ls[i] = line;
  return ls.join("\n");
}

describe("signature refusals", () => {
  test("the baseline verifies", async () => {
    const { file, sig } = helloCase("baseline");
    expect(await verifyFileSignature(file, sig, keys)).toMatchObject({ ok: true });
  });

  test("tampered file -> E_SIGNATURE", async () => {
    const { file, sig } = helloCase("tampered");
    writeFileSync(file, "hello, upkeeq\n");
    await expectRefusal(verifyFileSignature(file, sig, keys), "E_SIGNATURE", /not what was signed/);
  });

  test("truncated signature (a line missing) -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("truncated-lines");
    const cut = sig.split("\n").slice(0, 3).join("\n");
    await expectRefusal(verifyFileSignature(file, cut, keys), "E_MALFORMED", /truncated/);
  });

  test("truncated signature (cut inside the base64) -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("truncated-b64");
    await expectRefusal(verifyFileSignature(file, sig.slice(0, sig.length - 20), keys), "E_MALFORMED");
  });

  test("garbage signature -> E_MALFORMED", async () => {
    const { file } = helloCase("garbage");
    const garbage = Array.from({ length: 300 }, (_, i) => String.fromCharCode(32 + ((i * 37) % 90))).join("");
    await expectRefusal(verifyFileSignature(file, garbage, keys), "E_MALFORMED");
    await expectRefusal(verifyFileSignature(file, "", keys), "E_MALFORMED");
  });

  test("bad base64 in the signature line -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("bad-b64");
    const line = sig.split("\n")[1] ?? "";
    await expectRefusal(
      verifyFileSignature(file, withLine(sig, 1, `!${line.slice(1)}`), keys),
      "E_MALFORMED",
      /base64/,
    );
    await expectRefusal(
      verifyFileSignature(file, withLine(sig, 1, line.slice(0, -4)), keys),
      "E_MALFORMED",
      /base64/,
    );
  });

  test("bad base64 in the global signature line -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("bad-b64-global");
    const line = sig.split("\n")[3] ?? "";
    await expectRefusal(
      verifyFileSignature(file, withLine(sig, 3, `${line.slice(0, -3)}_==`), keys),
      "E_MALFORMED",
    );
  });

  test("wrong key (signed by a key that is not trusted) -> E_KEY", async () => {
    const { file } = helloCase("wrong-key");
    await expectRefusal(
      verifyFileSignature(file, fixtureText("hello.txt.other.minisig"), keys),
      "E_KEY",
      /not trusted \(trusted: [0-9A-F]{16}\)/,
    );
  });

  test("key id mismatch: another key's signature relabelled with the trusted key id -> E_SIGNATURE", async () => {
    const { file } = helloCase("keyid-forged");
    const other = fixtureText("hello.txt.other.minisig");
    const raw = decodeBase64(other.split("\n")[1] ?? "", 74, "sig");
    raw.set(TRUSTED.keyId, 2);
    const forged = withLine(other, 1, encodeBase64(raw));
    expect(parseSignature(forged).keyId).toEqual(TRUSTED.keyId);
    await expectRefusal(verifyFileSignature(file, forged, keys), "E_SIGNATURE");
  });

  test("key id mismatch: the trusted key file carries another key id -> E_KEY", async () => {
    const { file, sig } = helloCase("keyid-pub");
    const relabelled: PublicKey = { keyId: new Uint8Array(8).fill(1), key: TRUSTED.key };
    await expectRefusal(verifyFileSignature(file, sig, [relabelled]), "E_KEY");
  });

  test("another file's signature (same bytes, other name) -> E_SIGNATURE", async () => {
    const d = join(dir, "other-file");
    mkdirSync(d);
    const file = join(d, "goodbye.txt");
    copyFileSync(fx("hello.txt"), file);
    await expectRefusal(
      verifyFileSignature(file, HELLO_SIG, keys),
      "E_SIGNATURE",
      /for the file "hello\.txt", not "goodbye\.txt"/,
    );
  });

  test("a trusted comment edited to name this file -> E_SIGNATURE (global signature)", async () => {
    const d = join(dir, "comment-edit");
    mkdirSync(d);
    const file = join(d, "goodbye.txt");
    copyFileSync(fx("hello.txt"), file);
    const edited = HELLO_SIG.replace("file:hello.txt", "file:goodbye.txt");
    await expectRefusal(
      verifyFileSignature(file, edited, keys),
      "E_SIGNATURE",
      /trusted comment's signature/,
    );
  });

  test("legacy algorithm (Ed, not prehashed) -> E_SIGNATURE", async () => {
    const { file } = helloCase("legacy");
    await expectRefusal(
      verifyFileSignature(file, fixtureText("hello.txt.legacy.minisig"), keys),
      "E_SIGNATURE",
      /legacy/,
    );
  });

  test("unknown algorithm bytes -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("alg");
    const raw = decodeBase64(sig.split("\n")[1] ?? "", 74, "sig");
    raw[1] = 0x58; // "EX"
    await expectRefusal(
      verifyFileSignature(file, withLine(sig, 1, encodeBase64(raw)), keys),
      "E_MALFORMED",
      /algorithm/,
    );
  });

  test("oversized untrusted comment line -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("long-untrusted");
    const long = withLine(sig, 0, `untrusted comment: ${"x".repeat(1100)}`);
    await expectRefusal(verifyFileSignature(file, long, keys), "E_MALFORMED", /untrusted comment longer/);
  });

  test("oversized trusted comment line -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("long-trusted");
    const long = withLine(sig, 2, `trusted comment: timestamp:1\tfile:hello.txt\t${"x".repeat(8200)}`);
    await expectRefusal(verifyFileSignature(file, long, keys), "E_MALFORMED", /trusted comment longer/);
  });

  test("oversized signature file -> E_MALFORMED before it is parsed", async () => {
    const { file } = helloCase("huge-sig");
    writeFileSync(`${file}.minisig`, `${HELLO_SIG}${"\n".repeat(20_000)}`);
    await expect(readSignatureFile(`${file}.minisig`)).rejects.toMatchObject({ code: "E_MALFORMED" });
  });

  test("content after the signature -> E_MALFORMED", async () => {
    const { file, sig } = helloCase("trailing");
    await expectRefusal(
      verifyFileSignature(file, `${sig}\nextra\n`, keys),
      "E_MALFORMED",
      /after the 4th line/,
    );
  });

  const inComment: [string, string, string, RegExp][] = [
    ["a carriage return", "cr", "\r", /carriage/], // minisign would cut the comment there
    ["a NUL byte", "nul", "\0", /NUL/],
  ];
  for (const [what, name, char, reason] of inComment) {
    test(`${what} inside the trusted comment -> E_MALFORMED`, async () => {
      const { file, sig } = helloCase(name);
      await expectRefusal(
        verifyFileSignature(file, sig.replace("\thashed", `${char}\thashed`), keys),
        "E_MALFORMED",
        reason,
      );
    });
  }
});

// ---- release manifest and artifacts ----

interface Release {
  dir: string;
  manifestPath: string;
  manifest: Manifest;
  path: (name: string) => string;
}

/** Writes artifacts, their signatures and a signed manifest into a fresh directory. */
async function release(
  name: string,
  opts: {
    files?: Record<string, string>;
    floor?: string;
    serial?: number;
    expires?: Date;
    /** Overrides the manifest's view of an artifact. */
    listed?: (
      facts: { name: string; size: number; sha256: string }[],
    ) => { name: string; size: number; sha256: string }[];
    signer?: SecretKey;
    manifestName?: string;
  } = {},
): Promise<Release> {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const files = opts.files ?? { [V1]: "one\n", [V2]: "two two\n", [V2_ARM]: "two arm\n" };
  const facts: { name: string; size: number; sha256: string }[] = [];
  for (const [n, content] of Object.entries(files)) {
    const p = join(d, n);
    writeFileSync(p, content);
    writeFileSync(`${p}.minisig`, await signFile(p, sk));
    facts.push({
      name: n,
      size: Buffer.byteLength(content),
      sha256: new Bun.CryptoHasher("sha256").update(content).digest("hex"),
    });
  }
  const manifest = buildManifest({
    product: PRODUCT,
    serial: opts.serial ?? 500,
    issued: new Date("2030-05-01T00:00:00Z"),
    expires: opts.expires ?? new Date("2030-07-01T00:00:00Z"),
    ...(opts.floor ? { floor: opts.floor } : {}),
    artifacts: opts.listed ? opts.listed(facts) : facts,
  });
  const mname = manifestFileName(PRODUCT);
  const manifestPath = join(d, mname);
  const bytes = encodeUtf8(serializeManifest(manifest));
  writeFileSync(manifestPath, bytes);
  writeFileSync(
    `${manifestPath}.minisig`,
    await signBytes(opts.signer ?? sk, bytes, opts.manifestName ?? mname, 1),
  );
  return { dir: d, manifestPath, manifest, path: (n) => join(d, n) };
}

function verifyManifestAt(r: Release, extra: { now?: Date; lastSerial?: number; product?: string } = {}) {
  return verifyManifestFile({
    path: r.manifestPath,
    trustedKeys: keys,
    product: extra.product ?? PRODUCT,
    now: extra.now ?? NOW,
    ...(extra.lastSerial === undefined ? {} : { lastSerial: extra.lastSerial }),
  });
}

function verifyArtifactAt(r: Release, name: string, extra: { now?: Date; file?: string } = {}) {
  return verifyArtifactFile({
    path: extra.file ?? r.path(name),
    signaturePath: `${extra.file ?? r.path(name)}.minisig`,
    trustedKeys: keys,
    manifest: r.manifest,
    expectedName: name,
    now: extra.now ?? NOW,
  });
}

describe("manifest refusals", () => {
  test("the baseline verifies: manifest, then an artifact listed in it", async () => {
    const r = await release("m-ok");
    const m = await verifyManifestAt(r, { lastSerial: 499 });
    expect(m).toMatchObject({ ok: true, manifest: { serial: 500, product: PRODUCT } });
    const a = await verifyArtifactAt(r, V2);
    expect(a).toMatchObject({ ok: true, release: { version: "2.0.0" }, artifact: { name: V2, size: 8 } });
  });

  test("expired manifest -> E_EXPIRED", async () => {
    const r = await release("m-expired", { expires: new Date("2030-05-31T00:00:00Z") });
    await expectRefusal(verifyManifestAt(r), "E_EXPIRED", /expired at 2030-05-31T00:00:00Z/);
  });

  test("serial rollback (lower than the last seen) -> E_ROLLBACK", async () => {
    const r = await release("m-rollback", { serial: 400 });
    await expectRefusal(verifyManifestAt(r, { lastSerial: 401 }), "E_ROLLBACK", /serial 400, lower than 401/);
    expect(await verifyManifestAt(r, { lastSerial: 400 })).toMatchObject({ ok: true });
  });

  test("manifest signed by an untrusted key -> E_KEY", async () => {
    const { secretKey } = await generateKeyPair();
    const r = await release("m-untrusted", { signer: secretKey });
    await expectRefusal(verifyManifestAt(r), "E_KEY");
  });

  test("manifest edited after signing -> E_SIGNATURE", async () => {
    const r = await release("m-edited");
    writeFileSync(
      r.manifestPath,
      readFileSync(r.manifestPath, "utf8").replace('"serial": 500', '"serial": 900'),
    );
    await expectRefusal(verifyManifestAt(r), "E_SIGNATURE");
  });

  test("a signature naming another manifest file -> E_SIGNATURE", async () => {
    const r = await release("m-othername", { manifestName: "other-releases.json" });
    await expectRefusal(verifyManifestAt(r), "E_SIGNATURE", /other-releases\.json/);
  });

  test("a validly signed manifest of another product -> refused", async () => {
    const r = await release("m-product");
    const v = await verifyManifestAt(r, { product: "other" });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(["E_SIGNATURE", "E_MALFORMED"]).toContain(v.code);
  });

  test("malformed manifest content, validly signed -> E_MALFORMED", async () => {
    const r = await release("m-malformed");
    const bytes = encodeUtf8('{"schema": 1, "product": "hello"}');
    writeFileSync(r.manifestPath, bytes);
    writeFileSync(`${r.manifestPath}.minisig`, await signBytes(sk, bytes, manifestFileName(PRODUCT), 1));
    await expectRefusal(verifyManifestAt(r), "E_MALFORMED", /missing field/);
  });

  test("missing manifest signature -> E_IO", async () => {
    const r = await release("m-nosig");
    rmSync(`${r.manifestPath}.minisig`);
    await expectRefusal(verifyManifestAt(r), "E_IO", /no such file/);
  });
});

describe("artifact refusals", () => {
  test("version below the floor -> E_BELOW_FLOOR", async () => {
    const r = await release("a-floor", { floor: "2.0.0" });
    await expectRefusal(verifyArtifactAt(r, V1), "E_BELOW_FLOOR", /below the floor 2\.0\.0/);
  });

  test("artifact missing from the manifest -> E_NOT_IN_MANIFEST", async () => {
    const r = await release("a-missing", { listed: (f) => f.filter((a) => a.name !== V2_ARM) });
    await expectRefusal(verifyArtifactAt(r, V2_ARM), "E_NOT_IN_MANIFEST");
  });

  test("a name outside the template (as a taken-over server might send) -> E_MALFORMED", async () => {
    const r = await release("a-name");
    await expectRefusal(verifyArtifactAt(r, "../../etc/passwd", { file: r.path(V2) }), "E_MALFORMED");
  });

  test("size mismatch -> E_SIZE", async () => {
    const r = await release("a-size");
    appendFileSync(r.path(V2), "more bytes");
    await expectRefusal(verifyArtifactAt(r, V2), "E_SIZE", /manifest says 8/);
  });

  test("sha256 mismatch (signature valid, manifest lists other bytes of the same size) -> E_CHECKSUM", async () => {
    const r = await release("a-sha", {
      listed: (f) => f.map((a) => (a.name === V2 ? { ...a, sha256: "0".repeat(64) } : a)),
    });
    await expectRefusal(verifyArtifactAt(r, V2), "E_CHECKSUM", /is not the manifest's/);
  });

  test("tampered artifact of the same size -> E_SIGNATURE", async () => {
    const r = await release("a-tampered");
    writeFileSync(r.path(V2), "two tw0\n");
    await expectRefusal(verifyArtifactAt(r, V2), "E_SIGNATURE");
  });

  test("mix-and-match: another artifact's file and signature under this name -> E_SIGNATURE", async () => {
    const r = await release("a-mix");
    copyFileSync(r.path(V2_ARM), r.path(V2));
    copyFileSync(`${r.path(V2_ARM)}.minisig`, `${r.path(V2)}.minisig`);
    await expectRefusal(verifyArtifactAt(r, V2), "E_SIGNATURE", /for the file/);
  });

  test("a trusted comment naming another version -> E_SIGNATURE", async () => {
    const r = await release("a-version");
    const { createSignature, formatSignature } = await import("./minisign.ts");
    const { hashFile } = await import("../sys/hash.ts");
    const { blake2b512 } = await hashFile(r.path(V2), ["blake2b512"]);
    const sig = await createSignature(
      sk,
      blake2b512 ?? new Uint8Array(),
      `timestamp:1\tfile:${V2}\tversion:1.0.0`,
    );
    writeFileSync(`${r.path(V2)}.minisig`, formatSignature(sig));
    await expectRefusal(verifyArtifactAt(r, V2), "E_SIGNATURE", /for version 1\.0\.0, not 2\.0\.0/);
    const same = await createSignature(
      sk,
      blake2b512 ?? new Uint8Array(),
      `timestamp:1\tfile:${V2}\tversion:v2.0.0`,
    );
    writeFileSync(`${r.path(V2)}.minisig`, formatSignature(same));
    expect(await verifyArtifactAt(r, V2)).toMatchObject({ ok: true });
  });

  test("expired manifest at install time -> E_EXPIRED", async () => {
    const r = await release("a-expired");
    await expectRefusal(verifyArtifactAt(r, V2, { now: new Date("2031-01-01T00:00:00Z") }), "E_EXPIRED");
  });

  test("artifact signed by an untrusted key -> E_KEY", async () => {
    const r = await release("a-key");
    writeFileSync(`${r.path(V2)}.minisig`, await signFile(r.path(V2), (await generateKeyPair()).secretKey));
    await expectRefusal(verifyArtifactAt(r, V2), "E_KEY");
  });

  test("missing artifact file -> E_IO", async () => {
    const r = await release("a-nofile");
    rmSync(r.path(V2));
    await expectRefusal(verifyArtifactAt(r, V2), "E_IO");
  });

  test("legacy signature on an artifact is never accepted -> E_SIGNATURE", async () => {
    const r = await release("a-legacy", { files: { [V2]: readFileSync(fx("hello.txt"), "utf8") } });
    // minisign's legacy signature of these bytes, with its trusted comment naming hello.txt: refused as
    // legacy before anything else.
    writeFileSync(`${r.path(V2)}.minisig`, fixtureText("hello.txt.legacy.minisig"));
    await expectRefusal(verifyArtifactAt(r, V2), "E_SIGNATURE", /legacy/);
  });

  test("cheap refusals come before the file is read: name, floor, signature envelope, size", async () => {
    const r = await release("a-cheap", { floor: "2.0.0" });
    const files = {
      size: async () => 8,
      digest: async () => {
        throw new Error("the file must not be hashed for this refusal");
      },
    };
    const base = {
      path: r.path(V2),
      signature: readFileSync(`${r.path(V2)}.minisig`, "utf8"),
      trustedKeys: keys,
      manifest: r.manifest,
      expectedName: V2,
      now: NOW,
    };
    await expectRefusal(verifyArtifact({ ...base, expectedName: V1 }, files), "E_BELOW_FLOOR");
    await expectRefusal(verifyArtifact({ ...base, expectedName: "x" }, files), "E_MALFORMED");
    await expectRefusal(
      verifyArtifact({ ...base, trustedKeys: [(await generateKeyPair()).publicKey] }, files),
      "E_KEY",
    );
    await expectRefusal(
      verifyArtifact({ ...base, signature: HELLO_SIG }, files),
      "E_SIGNATURE",
      /hello\.txt/,
    );
    await expectRefusal(verifyArtifact(base, { ...files, size: async () => 9 }), "E_SIZE");
    await expectRefusal(
      verifyArtifact({ ...base, signature: readFileSync(`${r.path(V2_ARM)}.minisig`, "utf8") }, files),
      "E_SIGNATURE",
    );
  });
});
