/**
 * `upkeep release manifest --add` (issue 11, trap 4): a new manifest keeps every release of the one in --out,
 * after verifying it with the signing key's public half, and says when it expires; and `release sign` /
 * `manifest` with an encrypted key say "Deriving the key (scrypt) ..." on a terminal (trap 5). Compiled binary.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrustedKeys, writeKeyPair } from "../core/sys/keys.ts";
import { verifyManifestFile } from "../core/sys/verify_artifact.ts";
import { parseManifest } from "../core/trust/manifest.ts";
import { makeFakeRelease } from "../scripts/fake-release.ts";
import { closeWorld, publish, startWorld } from "./agent_helpers.ts";
import { keygenIn, UPKEEP, upkeep, useTempFolder } from "./cli.ts";
import { tar, tarGz } from "./install_helpers.ts";

const STACK = /^\s+at .+[:(]\d+/m;
const sub = useTempFolder("release-add");
const keygen = (name: string) => keygenIn(sub(name));

/** A small real artifact of `version`; `salt` makes other bytes under the same name. */
function artifact(d: string, version: string, salt = "", arch = "amd64"): string {
  const p = join(d, `hello-v${version}-linux-${arch}-bin.tar.gz`);
  writeFileSync(
    p,
    tarGz(tar.file("bin/hello", `#!/bin/sh\necho hello v${version}${salt}\n`, 0o755), tar.end()),
  );
  return p;
}

const read = (out: string) => parseManifest(readFileSync(join(out, "hello-releases.json"), "utf8"));

function manifest(key: string, out: string, extra: string[], files: string[]) {
  return upkeep([
    "release",
    "manifest",
    "--key",
    key,
    "--product",
    "hello",
    "--out",
    out,
    ...extra,
    ...files,
  ]);
}

describe("release manifest --add", () => {
  test("keeps the releases, floor and critical flags of the manifest in --out, adds the new ones, raises the serial", async () => {
    const k = await keygen("add-key");
    const d = sub("add");
    const out = join(d, "out");
    const first = await manifest(
      k.key,
      out,
      ["--floor", "1.0.0", "--critical", "1.0.0"],
      [artifact(d, "0.9.0"), artifact(d, "1.0.0")],
    );
    expect(first.code).toBe(0);
    const before = read(out);
    // Only the new release's file: the old artifacts need not be on disk any more.
    const r = await manifest(
      k.key,
      out,
      ["--add", "--json"],
      [artifact(d, "1.1.0"), artifact(d, "1.0.0", "", "arm64")],
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      versions: ["1.1.0", "1.0.0", "0.9.0"],
      floor: "1.0.0",
      added: ["hello-v1.1.0-linux-amd64-bin.tar.gz", "hello-v1.0.0-linux-arm64-bin.tar.gz"],
      replaced: [],
      kept_versions: ["1.0.0", "0.9.0"],
    });
    const after = read(out);
    expect(after.serial).toBeGreaterThan(before.serial);
    expect(after.floor).toBe("1.0.0");
    expect(after.releases.find((x) => x.version === "1.0.0")).toMatchObject({ critical: true });
    expect(after.releases.find((x) => x.version === "1.0.0")?.artifacts.map((a) => a.arch)).toEqual([
      "amd64",
      "arm64",
    ]);
    // The old entries are kept as they were (size, sha256, unpacked size).
    expect(after.releases.find((x) => x.version === "0.9.0")).toEqual(
      before.releases.find((x) => x.version === "0.9.0") as never,
    );
    // Hosts accept it (signature, product, not a rollback).
    const v = await verifyManifestFile({
      path: join(out, "hello-releases.json"),
      trustedKeys: await loadTrustedKeys([k.pub]),
      product: "hello",
      now: new Date(),
      lastSerial: before.serial,
    });
    expect(v.ok).toBe(true);

    // The text says when it expires (default 30 days) and what was added.
    const text = await manifest(k.key, out, ["--add", "--critical", "1.1.0"], [artifact(d, "1.2.0")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("versions 1.2.0, 1.1.0, 1.0.0, 0.9.0");
    expect(text.stdout).toContain("added hello-v1.2.0-linux-amd64-bin.tar.gz");
    expect(text.stdout).toMatch(/expires \d{4}-\d\d-\d\dT[\d:]+Z \(in 30 days\): hosts stop updating then/);
    expect(
      read(out)
        .releases.filter((x) => x.critical)
        .map((x) => x.version),
    ).toEqual(["1.1.0", "1.0.0"]);
    // A higher --floor drops the critical flag below it (no host may install that version).
    const floor = await manifest(k.key, out, ["--add", "--floor", "1.1.0", "--json"], [artifact(d, "1.2.0")]);
    expect(floor.code).toBe(0);
    expect(JSON.parse(floor.stdout).unchanged).toEqual(["hello-v1.2.0-linux-amd64-bin.tar.gz"]);
    expect(read(out).floor).toBe("1.1.0");
    expect(
      read(out)
        .releases.filter((x) => x.critical)
        .map((x) => x.version),
    ).toEqual(["1.1.0"]);
  });

  test("an artifact listed with other bytes is refused (nothing written) unless --replace", async () => {
    const k = await keygen("replace-key");
    const d = sub("replace");
    const out = join(d, "out");
    expect((await manifest(k.key, out, [], [artifact(d, "2.0.0")])).code).toBe(0);
    const bytes = readFileSync(join(out, "hello-releases.json"));
    const sig = readFileSync(join(out, "hello-releases.json.minisig"));
    const other = artifact(d, "2.0.0", " rebuilt");
    const r = await manifest(k.key, out, ["--add"], [other]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "hello-v2.0.0-linux-amd64-bin.tar.gz is already in the manifest with other bytes",
    );
    expect(r.stderr).toContain("--replace");
    expect(r.stderr).toContain("(E_CONFLICT)");
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(join(out, "hello-releases.json"))).toEqual(bytes);
    expect(readFileSync(join(out, "hello-releases.json.minisig"))).toEqual(sig);
    const ok = await manifest(k.key, out, ["--add", "--replace", "--json"], [other]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).replaced).toEqual(["hello-v2.0.0-linux-amd64-bin.tar.gz"]);
    expect(read(out).releases[0]?.artifacts[0]?.sha256).toBe(
      new Bun.CryptoHasher("sha256").update(readFileSync(other)).digest("hex"),
    );
    // --replace alone means nothing.
    expect((await manifest(k.key, out, ["--replace"], [other])).stderr).toContain(
      "--replace goes with --add",
    );
  });

  test("refused when there is no manifest to add to, or it does not verify with the key (nothing written)", async () => {
    const k = await keygen("verify-key");
    const other = await keygen("verify-other");
    const d = sub("verify");
    const out = join(d, "out");
    const none = await manifest(k.key, out, ["--add"], [artifact(d, "3.0.0")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      `--add: there is no manifest ${join(out, "hello-releases.json")} to add to`,
    );
    expect(none.stderr).toContain("leave out --add");

    // Signed by another key: never extended and re-signed.
    expect((await manifest(other.key, out, [], [artifact(d, "3.0.0")])).code).toBe(0);
    const bytes = readFileSync(join(out, "hello-releases.json"));
    const r = await manifest(k.key, out, ["--add"], [artifact(d, "3.1.0")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not verify with the public key of");
    expect(r.stderr).toContain("(E_SIGNATURE)");
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(join(out, "hello-releases.json"))).toEqual(bytes);

    // Changed after signing (an extra release slipped in): refused too.
    expect((await manifest(k.key, out, [], [artifact(d, "3.0.0")])).code).toBe(0);
    const m = read(out);
    const forged = { ...m, floor: null, releases: [...m.releases] };
    forged.releases[0] = { ...(m.releases[0] as (typeof m.releases)[number]), critical: true };
    writeFileSync(join(out, "hello-releases.json"), `${JSON.stringify(forged, null, 2)}\n`);
    const tampered = await manifest(k.key, out, ["--add"], [artifact(d, "3.1.0")]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain("(E_SIGNATURE)");
    // A missing signature is named.
    rmSync(join(out, "hello-releases.json.minisig"));
    const unsigned = await manifest(k.key, out, ["--add"], [artifact(d, "3.1.0")]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain("hello-releases.json.minisig cannot be read");
  });

  test("an expired manifest can be extended (that is how a fresh one is made)", async () => {
    const k = await keygen("expired-key");
    const d = sub("expired");
    const rel = await makeFakeRelease({ out: d, versions: ["4.0.0"], key: k.key, expired: true });
    const r = await manifest(k.key, d, ["--add", "--json"], [artifact(sub("expired-new"), "4.1.0")]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).versions).toEqual(["4.1.0", "4.0.0"]);
    expect(read(d).serial).toBeGreaterThan(rel.serial);
    expect(Date.parse(read(d).expires)).toBeGreaterThan(Date.now());
  });

  test("without --add, versions the previous manifest listed and this one drops are named", async () => {
    const k = await keygen("drop-key");
    const d = sub("drop");
    expect((await manifest(k.key, d, [], [artifact(d, "5.0.0"), artifact(d, "5.1.0")])).code).toBe(0);
    const r = await manifest(k.key, d, [], [artifact(d, "5.2.0")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("listed 5.1.0, 5.0.0, which this one does not");
    expect(r.stderr).toContain("--add keeps the listed releases");
  });
});

describe("admin get releases and the server log say when the published manifest expires", () => {
  test("the expiry always; a warning within 7 days, in the view and the server log", async () => {
    const w = await startWorld("expiry");
    try {
      const none = await upkeep(["admin", "get", "releases"], { env: w.env });
      expect(none.stdout).toContain("manifest: none published: hosts install nothing");
      const pub = (sub: string, days: number) =>
        publish(w, ["7.0.0"], sub, undefined, { expiresInMs: days * 86_400_000 + 3_600_000 });
      await pub("r30", 30);
      const fine = await upkeep(["admin", "get", "releases"], { env: w.env });
      expect(fine.code).toBe(0);
      expect(fine.stdout).toMatch(
        /manifest: serial \d+, expires \S+Z \(in 30 days\), floor none; versions 7\.0\.0/,
      );
      expect(fine.stdout).not.toContain("WARNING");
      expect(w.serve.stderr()).not.toContain("release manifest expires");

      await pub("r3", 3);
      const soon = await upkeep(["admin", "get", "releases"], { env: w.env });
      expect(soon.stdout).toContain("(in 3 days)");
      expect(soon.stdout).toContain("WARNING: the published hello release manifest expires in 3 days");
      expect(soon.stdout).toContain("hosts stop updating then");
      const json = JSON.parse((await upkeep(["admin", "get", "releases", "--json"], { env: w.env })).stdout);
      expect(json.manifest.warning).toContain("expires in 3 days");
      for (let i = 0; i < 50 && !w.serve.stderr().includes("release manifest expires"); i++)
        await Bun.sleep(100);
      expect(w.serve.stderr()).toContain("WARNING: the published hello release manifest expires in 3 days");
    } finally {
      await closeWorld(w);
    }
  });
});

describe("an encrypted key on a terminal", () => {
  const hasScript = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;

  /** Runs dist/upkeep ARGS with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`). */
  async function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
    const cmd = [UPKEEP, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], {
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    return out;
  }

  test.skipIf(!hasScript)(
    "sign and manifest say they derive the key; without a terminal they do not",
    async () => {
      const d = sub("tty");
      // Small scrypt limits: the message is what is tested, not the wait.
      await writeKeyPair(d, { password: "pw", kdf: { opslimit: 524288n, memlimit: 16777216n } });
      const key = join(d, "upkeep.key");
      const file = artifact(d, "6.0.0");
      const env = { UPKEEP_KEY_PASSWORD: "pw" };
      expect(await onTerminal(["release", "sign", "--key", key, file], env)).toContain(
        "Deriving the key (scrypt) ...",
      );
      const m = await onTerminal(
        ["release", "manifest", "--key", key, "--product", "hello", "--out", d, file],
        env,
      );
      expect(m).toContain("Deriving the key (scrypt) ...");
      expect(m).toContain("wrote");
      const plain = await upkeep(["release", "sign", "--key", key, file], { env });
      expect(plain.code).toBe(0);
      expect(plain.stderr).toBe("");
      // An unencrypted key derives nothing.
      const k = await keygen("tty-plain");
      expect(await onTerminal(["release", "sign", "--key", k.key, file], {})).not.toContain("Deriving");
    },
  );
});
