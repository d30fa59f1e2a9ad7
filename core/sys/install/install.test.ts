/**
 * The shared installer (core/sys/install) end to end against a loopback artifact host: refusals of every
 * malicious archive kind with nothing written outside the versions folder, good installs of each layout,
 * reuse, tampering, signatures, manifest rules, resume after a cut connection, cancel, cleanup, the
 * symlink switch, URL rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BAD_KINDS, makeFakeRelease } from "../../../scripts/fake-release.ts";
import { type Host, publishCustom, startHost, tar, tarGz, walk } from "../../../test/install_helpers.ts";
import { isUpkeepError } from "../../errors.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import type { PublicKey, SecretKey } from "../../trust/minisign.ts";
import { type KeygenResult, loadSecretKey, loadTrustedKeys, writeKeyPair } from "../keys.ts";
import {
  checkUrl,
  cleanVersionsDir,
  currentPlatform,
  fetchVerifiedManifest,
  INSTALL_STEPS,
  type InstallOptions,
  type InstallSource,
  installVersion,
  isCompleteVersionDir,
  KEPT_ARTIFACT,
  listInstalledVersions,
  MARKER_FILE,
  type Platform,
  switchSymlink,
  UNPACKED_FACTOR,
  type VerifiedManifest,
  versionDirName,
} from "./mod.ts";

const ROOT = mkdtempSync(join(tmpdir(), "upkeep-install-test-"));
const WWW = join(ROOT, "www");
const PLATFORM: Platform = currentPlatform();
let host: Host;
let key: KeygenResult;
let sk: SecretKey;
let keys: PublicKey[];
let otherSk: SecretKey;
let otherKeys: PublicKey[];

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isUpkeepError(e)) return e.code;
    throw e;
  }
  return "no error";
}

function source(release: string, extra: Partial<InstallSource> = {}): InstallSource {
  return { baseUrl: `${host.url}/${release}`, product: "hello", trustedKeys: keys, ...extra };
}

let caseN = 0;
/** A fresh case folder holding only `versions/` (the sentinel: nothing else may appear in it). */
function freshCase(): { root: string; versionsDir: string; workDir: string } {
  const root = join(ROOT, `case-${++caseN}`);
  const versionsDir = join(root, "versions");
  mkdirSync(versionsDir, { recursive: true });
  const workDir = join(ROOT, `work-${caseN}`);
  return { root, versionsDir, workDir };
}

async function manifestOf(
  release: string,
  workDir: string,
  extra: Partial<InstallSource> = {},
): Promise<VerifiedManifest> {
  return fetchVerifiedManifest(source(release, extra), { now: new Date(), workDir });
}

/** installVersion's options: 1.0.0 of `release` (as verified in `manifest`) into case `c`, `more` over them. */
function options(
  release: string,
  manifest: VerifiedManifest,
  c: { versionsDir: string },
  more: Partial<InstallOptions> = {},
): InstallOptions {
  return {
    source: source(release),
    manifest,
    version: "1.0.0",
    platform: PLATFORM,
    versionsDir: c.versionsDir,
    ...more,
  };
}

async function install(
  release: string,
  version: string,
  c = freshCase(),
  extra: Partial<InstallSource> = {},
) {
  const manifest = await manifestOf(release, c.workDir, extra);
  return {
    c,
    result: await installVersion(options(release, manifest, c, { source: source(release, extra), version })),
  };
}

function artifactName(version: string): string {
  return formatArtifactName({
    product: "hello",
    edition: "oss",
    version,
    os: PLATFORM.os,
    arch: PLATFORM.arch,
    fips: false,
  });
}

beforeAll(async () => {
  key = await writeKeyPair(join(ROOT, "keys"));
  sk = await loadSecretKey(key.secretKeyPath);
  keys = await loadTrustedKeys([key.publicKeyPath]);
  const other = await writeKeyPair(join(ROOT, "other-keys"));
  otherSk = await loadSecretKey(other.secretKeyPath);
  otherKeys = await loadTrustedKeys([other.publicKeyPath]);
  await makeFakeRelease({
    out: join(WWW, "good"),
    versions: ["1.0.0", "1.1.0:flat", "1.2.0:teleport", "2.0.0:crash", "2.1.0:unhealthy", "2.2.0:badversion"],
    key: sk,
    serial: 10,
  });
  host = await startHost(WWW);
});

afterAll(async () => {
  await host?.stop();
  rmSync(ROOT, { recursive: true, force: true });
});

describe("malicious archives (signed and listed: only the extractor stops them)", () => {
  beforeAll(async () => {
    for (const kind of BAD_KINDS) {
      await makeFakeRelease({ out: join(WWW, `bad-${kind}`), versions: ["1.0.0"], key: sk, bad: kind });
    }
  });

  for (const kind of BAD_KINDS) {
    test(`${kind}: E_UNSAFE_ARCHIVE naming the entry, nothing written outside, nothing left inside`, async () => {
      const c = freshCase();
      const started = performance.now();
      let err: unknown;
      try {
        await install(`bad-${kind}`, "1.0.0", c);
      } catch (e) {
        err = e;
      }
      expect(isUpkeepError(err) && err.code).toBe("E_UNSAFE_ARCHIVE");
      expect((err as Error).message).toMatch(/unsafe archive entry "[^"]+"/);
      // The sentinel: the case folder holds only versions/, and versions/ is empty (no temp, no .part).
      expect(readdirSync(c.root)).toEqual(["versions"]);
      expect(readdirSync(c.versionsDir)).toEqual([]);
      expect(walk(ROOT).filter((p) => p.includes("upkeep-evil"))).toEqual([]);
      expect(readdirSync("/tmp").filter((n) => n.startsWith("upkeep-evil"))).toEqual([]);
      expect(listInstalledVersions(c.versionsDir)).toEqual([]);
      if (kind === "gzip-bomb") expect(performance.now() - started).toBeLessThan(5000);
    });
  }

  test("the messages say what was wrong", async () => {
    const expectations: Record<string, RegExp> = {
      "abs-path": /absolute path/,
      dotdot: /"\.\." component/,
      "symlink-out": /hello\/escape.*outside the tree/,
      "hardlink-out": /hello\/bin\/passwd/,
      device: /character device/,
      setuid: /setuid/,
      "too-many-files": /more than 10000 entries/,
      "gzip-bomb": /exceed 4294967296 bytes/,
    };
    for (const kind of BAD_KINDS) {
      const c = freshCase();
      const err = await install(`bad-${kind}`, "1.0.0", c).catch((e) => e as Error);
      expect((err as Error).message).toMatch(expectations[kind] ?? /./);
    }
  });
});

describe("good installs", () => {
  test("default layout (hello/bin/hello): top folder stripped, bin/ kept, marker, nothing left over", async () => {
    const { c, result } = await install("good", "1.0.0");
    const size = statSync(join(result.dir, KEPT_ARTIFACT)).size;
    expect(result).toEqual({
      dir: join(c.versionsDir, "1.0.0"),
      reused: false,
      download: { kind: "full", bytes: size, full_bytes: size },
    });
    expect(walk(result.dir)).toEqual([KEPT_ARTIFACT, MARKER_FILE, "README", "bin", "bin/hello"]);
    expect(readdirSync(c.versionsDir)).toEqual(["1.0.0"]);
    expect(statSync(join(result.dir, "bin/hello")).mode & 0o777).toBe(0o755);
    const marker = JSON.parse(readFileSync(join(result.dir, MARKER_FILE), "utf8"));
    expect(Object.keys(marker)).toEqual(["version", "artifact", "sha256", "installed_at"]);
    expect(marker.version).toBe("1.0.0");
    expect(marker.artifact).toBe(artifactName("1.0.0"));
    expect(marker.sha256).toMatch(/^[0-9a-f]{64}$/);
    const out = Bun.spawnSync([join(result.dir, "bin/hello"), "version"]);
    expect(out.exitCode).toBe(0);
    expect(out.stdout.toString().trim()).toBe("hello v1.0.0");
    expect(isCompleteVersionDir(result.dir)).toBe(true);
  });

  test("flat layout (hello at the root): the executable moves into bin/", async () => {
    const { result } = await install("good", "1.1.0");
    expect(walk(result.dir)).toEqual([KEPT_ARTIFACT, MARKER_FILE, "README", "bin", "bin/hello"]);
    expect(
      Bun.spawnSync([join(result.dir, "bin/hello"), "version"])
        .stdout.toString()
        .trim(),
    ).toBe("hello v1.1.0");
  });

  test("under umask 027 every folder the installer makes is 0755 (a daemon with User= must traverse it)", async () => {
    const old = process.umask(0o027);
    try {
      for (const version of ["1.0.0", "1.1.0"]) {
        // versions/ and its parent do not exist yet: the installer makes both.
        const root = join(ROOT, `umask-${++caseN}`);
        const c = { root, versionsDir: join(root, "ns", "versions"), workDir: join(ROOT, `work-${caseN}`) };
        mkdirSync(root);
        const { result } = await install("good", version, c);
        const dirs = [join(root, "ns"), c.versionsDir, result.dir, join(result.dir, "bin")];
        expect(dirs.map((d) => [d, statSync(d).mode & 0o777])).toEqual(dirs.map((d) => [d, 0o755]));
      }
    } finally {
      process.umask(old);
    }
  });

  test("Teleport layout (hello/hello, no bin/): top folder stripped, executable into bin/", async () => {
    const { result } = await install("good", "1.2.0");
    expect(walk(result.dir)).toEqual([KEPT_ARTIFACT, MARKER_FILE, "README", "bin", "bin/hello"]);
  });

  test("the marker is the last file written: every other file is older or as old", async () => {
    const { result } = await install("good", "1.0.0");
    const markerTime = statSync(join(result.dir, MARKER_FILE)).mtimeMs;
    for (const p of walk(result.dir))
      expect(lstatSync(join(result.dir, p)).mtimeMs).toBeLessThanOrEqual(markerTime);
  });

  test("behaviours of the fake daemon: crash, unhealthy, badversion", async () => {
    const c = freshCase();
    const dirs: Record<string, string> = {};
    for (const v of ["2.0.0", "2.1.0", "2.2.0"]) dirs[v] = (await install("good", v, c)).result.dir;
    const run = (v: string, ...args: string[]) => Bun.spawnSync([join(dirs[v] ?? "", "bin/hello"), ...args]);
    expect(run("2.1.0", "health").exitCode).toBe(1);
    expect(run("2.1.0", "version").exitCode).toBe(0);
    expect(run("2.2.0", "version").exitCode).toBe(1);
    const state = join(c.root, "state.json");
    const crash = Bun.spawnSync([join(dirs["2.0.0"] ?? "", "bin/hello"), "serve", "--port", "9"], {
      env: { ...process.env, HELLO_STATE: state },
    });
    expect(crash.exitCode).toBe(1);
    expect(JSON.parse(readFileSync(state, "utf8"))).toMatchObject({ version: "2.0.0", port: "9" });
    rmSync(state);
  });

  test("the healthy daemon serves until SIGTERM and writes its state", async () => {
    const c = freshCase();
    const { result } = await install("good", "1.0.0", c);
    const state = join(c.root, "..", `state-${caseN}.json`);
    const p = Bun.spawn([join(result.dir, "bin/hello")], {
      env: { ...process.env, HELLO_STATE: state },
      stdout: "ignore",
    });
    for (let i = 0; i < 50 && !existsSync(state); i++) await Bun.sleep(20);
    expect(JSON.parse(readFileSync(state, "utf8"))).toEqual({ version: "1.0.0", pid: p.pid, port: "" });
    await Bun.sleep(300);
    expect(p.exitCode).toBeNull();
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });

  test("reuse: a complete version is not downloaded again", async () => {
    const c = freshCase();
    await install("good", "1.0.0", c);
    const before = host.requests.length;
    const again = await install("good", "1.0.0", c);
    expect(again.result.reused).toBe(true);
    const artifactRequests = host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"));
    expect(artifactRequests).toEqual([]);
  });

  test("an incomplete folder of the version's name is replaced, never reused", async () => {
    const c = freshCase();
    mkdirSync(join(c.versionsDir, "1.0.0/bin"), { recursive: true });
    writeFileSync(join(c.versionsDir, "1.0.0/bin/hello"), "half");
    expect(listInstalledVersions(c.versionsDir)).toEqual([
      { name: "1.0.0", dir: join(c.versionsDir, "1.0.0"), complete: false },
    ]);
    const { result } = await install("good", "1.0.0", c);
    expect(result.reused).toBe(false);
    expect(readFileSync(join(result.dir, "bin/hello"), "utf8")).toContain("hello 1.0.0");
    expect(readdirSync(c.versionsDir)).toEqual(["1.0.0"]);
  });
});

describe("trust refusals", () => {
  beforeAll(async () => {
    await makeFakeRelease({ out: join(WWW, "floor"), versions: ["1.0.0", "1.1.0"], key: sk, floor: "1.1.0" });
    await makeFakeRelease({ out: join(WWW, "expired"), versions: ["1.0.0"], key: sk, expired: true });
    await makeFakeRelease({ out: join(WWW, "unsigned"), versions: ["1.0.0"], key: sk, unsigned: true });
    await makeFakeRelease({ out: join(WWW, "otherkey"), versions: ["1.0.0"], key: otherSk });
  });

  /**
   * Installs 1.0.0 of a fresh release `name` whose artifact is served `change`d from the signed bytes: the
   * error code, and the versions folder.
   */
  async function installChanged(name: string, change: (bytes: Buffer) => Uint8Array) {
    await makeFakeRelease({ out: join(WWW, name), versions: ["1.0.0"], key: sk });
    const path = `/${name}/${artifactName("1.0.0")}`;
    host.overrides.set(path, change(readFileSync(join(WWW, path))));
    try {
      const c = freshCase();
      return { code: await codeOf(install(name, "1.0.0", c)), versionsDir: c.versionsDir };
    } finally {
      host.overrides.delete(path);
    }
  }

  test("tampered bytes (same size): refused, the .part removed", async () => {
    const { code, versionsDir } = await installChanged("tamper", (bytes) => {
      const out = new Uint8Array(bytes);
      const mid = Math.floor(out.length / 2);
      out[mid] = (out[mid] ?? 0) ^ 0xff;
      return out;
    });
    expect(["E_SIGNATURE", "E_CHECKSUM"]).toContain(code);
    expect(readdirSync(versionsDir)).toEqual([]);
  });

  test("a larger artifact than the manifest says: E_SIZE, nothing kept", async () => {
    const { code, versionsDir } = await installChanged("bigger", (b) => Buffer.concat([b, Buffer.alloc(10)]));
    expect(code).toBe("E_SIZE");
    expect(readdirSync(versionsDir)).toEqual([]);
  });

  test("a shorter artifact than the manifest says: refused after the retries, no version", async () => {
    const { code, versionsDir } = await installChanged("shorter", (b) => b.subarray(0, b.length - 10));
    expect(code).toBe("E_NETWORK");
    expect(listInstalledVersions(versionsDir)).toEqual([]);
  });

  test("unsigned artifact (no .minisig): E_SIGNATURE", async () => {
    expect(await codeOf(install("unsigned", "1.0.0"))).toBe("E_SIGNATURE");
  });

  test("manifest signed by an untrusted key: E_SIGNATURE", async () => {
    expect(await codeOf(manifestOf("otherkey", freshCase().workDir))).toBe("E_SIGNATURE");
  });

  test("artifact signed by an untrusted key, manifest fine: E_SIGNATURE", async () => {
    const c = freshCase();
    const m = await manifestOf("otherkey", c.workDir, { trustedKeys: [...keys, ...otherKeys] });
    // Trust only our key for the artifact: the other key's artifact signature is refused.
    const err = await codeOf(installVersion(options("otherkey", m, c)));
    expect(err).toBe("E_SIGNATURE");
    expect(readdirSync(c.versionsDir)).toEqual([]);
  });

  test("a key rotation: several trusted keys, either may sign", async () => {
    const c = freshCase();
    const extra = { trustedKeys: [...otherKeys, ...keys] };
    const { result } = await install("good", "1.0.0", c, extra);
    expect(result.reused).toBe(false);
  });

  test("version not in the manifest: E_NOT_IN_MANIFEST; no artifact for this platform: E_NOT_IN_MANIFEST", async () => {
    const c = freshCase();
    const m = await manifestOf("good", c.workDir);
    const go = (version: string, platform: Platform) =>
      codeOf(installVersion(options("good", m, c, { version, platform })));
    expect(await go("9.9.9", PLATFORM)).toBe("E_NOT_IN_MANIFEST");
    const other: Platform = { ...PLATFORM, os: PLATFORM.os === "linux" ? "darwin" : "linux" };
    expect(await go("1.0.0", other)).toBe("E_NOT_IN_MANIFEST");
    expect(await go("1.0.0", { ...PLATFORM, edition: "ent" })).toBe("E_NOT_IN_MANIFEST");
    expect(await go("not-a-version", PLATFORM)).toBe("E_BAD_VERSION");
  });

  test("below the manifest's floor: E_BELOW_FLOOR", async () => {
    expect(await codeOf(install("floor", "1.0.0"))).toBe("E_BELOW_FLOOR");
    expect((await install("floor", "1.1.0")).result.reused).toBe(false);
  });

  test("expired manifest: E_EXPIRED", async () => {
    expect(await codeOf(manifestOf("expired", freshCase().workDir))).toBe("E_EXPIRED");
  });

  test("serial rollback: E_ROLLBACK; same or higher serial accepted", async () => {
    const w = freshCase().workDir;
    const get = (lastSerial: number) =>
      fetchVerifiedManifest(source("good"), { now: new Date(), lastSerial, workDir: w });
    expect(await codeOf(get(11))).toBe("E_ROLLBACK");
    expect((await get(10)).serial).toBe(10);
    expect((await get(3)).serial).toBe(10);
  });

  test("the verified manifest is saved in workDir; a refused one leaves nothing there", async () => {
    const w = freshCase().workDir;
    const m = await manifestOf("good", w);
    expect(m.path).toBe(join(w, "hello-releases.json"));
    expect(readdirSync(w).sort()).toEqual(["hello-releases.json", "hello-releases.json.minisig"]);
    const w2 = freshCase().workDir;
    await codeOf(manifestOf("expired", w2));
    expect(readdirSync(w2)).toEqual([]);
  });

  test("missing manifest: E_NOT_FOUND; oversized manifest: E_MALFORMED before reading it all", async () => {
    expect(await codeOf(manifestOf("nothing-here", freshCase().workDir))).toBe("E_NOT_FOUND");
    mkdirSync(join(WWW, "huge"), { recursive: true });
    writeFileSync(join(WWW, "huge", "hello-releases.json"), Buffer.alloc(9 * 1024 * 1024, 0x20));
    writeFileSync(join(WWW, "huge", "hello-releases.json.minisig"), "x");
    expect(await codeOf(manifestOf("huge", freshCase().workDir))).toBe("E_MALFORMED");
  });

  test("not enough disk space for the manifest's size: E_NO_SPACE before any download", async () => {
    const dir = join(WWW, "nospace");
    await publishCustom(
      dir,
      sk,
      [{ version: "1.0.0", gz: tarGz(tar.file("hello/bin/hello", "#!/bin/sh\n", 0o755), tar.end()) }],
      {
        os: PLATFORM.os,
        arch: PLATFORM.arch,
        sizeOverride: 2 ** 52,
      },
    );
    const before = host.requests.length;
    expect(await codeOf(install("nospace", "1.0.0"))).toBe("E_NO_SPACE");
    expect(host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"))).toEqual([]);
  });
});

describe("a failed install leaves nothing behind; a refusal is about verified bytes only", () => {
  beforeAll(async () => {
    await makeFakeRelease({
      out: join(WWW, "layout"),
      versions: ["1.0.0:binfile", "1.1.0:binlink", "1.2.0"],
      key: sk,
    });
  });

  for (const [version, what] of [
    ["1.0.0", "a file"],
    ["1.1.0", "a symlink"],
  ] as const) {
    test(`a signed release whose bin is ${what}: E_MALFORMED, no .tmp-* and no .part left, every time`, async () => {
      const c = freshCase();
      for (let i = 0; i < 3; i++) {
        const err = await install("layout", version, c).catch((e) => e as Error);
        expect(isUpkeepError(err) && err.code).toBe("E_MALFORMED");
        expect((err as Error).message).toContain('"bin" that is not a folder');
        expect(readdirSync(c.versionsDir)).toEqual([]);
      }
    });
  }

  test("leftovers of a crashed run are swept by the next install; a fresh .part of another artifact stays", async () => {
    const c = freshCase();
    mkdirSync(join(c.versionsDir, ".tmp-0123/hello/bin"), { recursive: true });
    mkdirSync(join(c.versionsDir, ".tmp-removed-0.9.0-abcd/bin"), { recursive: true });
    writeFileSync(join(c.versionsDir, ".download-old.tar.gz.part"), "x");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(c.versionsDir, ".download-old.tar.gz.part"), twoDaysAgo, twoDaysAgo);
    writeFileSync(join(c.versionsDir, ".download-fresh.tar.gz.part"), "x");
    writeFileSync(join(c.versionsDir, "notes.txt"), "");
    await install("layout", "1.2.0", c);
    expect(readdirSync(c.versionsDir).sort()).toEqual([".download-fresh.tar.gz.part", "1.2.0", "notes.txt"]);
  });

  test("a malformed or oversized artifact signature is E_SIGNATURE (a mirror's problem), never E_MALFORMED", async () => {
    const sig = `/layout/${artifactName("1.2.0")}.minisig`;
    const part = `.download-${artifactName("1.2.0")}.part`;
    try {
      // Not a signature: the verification fails (the .part goes, as for bad bytes). Too large to be one:
      // the complete download is kept, as when the signature is missing, for the next run to verify.
      for (const [bad, left] of [
        [new TextEncoder().encode("untrusted comment: x\nnot base64 at all\n"), []],
        [new Uint8Array(64 * 1024).fill(0x41), [part]],
      ] as const) {
        host.overrides.set(sig, bad);
        const c = freshCase();
        const err = await install("layout", "1.2.0", c).catch((e) => e as Error);
        expect(isUpkeepError(err) && err.code).toBe("E_SIGNATURE");
        expect(readdirSync(c.versionsDir)).toEqual([...left]);
      }
    } finally {
      host.overrides.delete(sig);
    }
  });
});

describe("the completion marker is checked against the manifest before reuse", () => {
  beforeAll(async () => {
    await makeFakeRelease({ out: join(WWW, "repub-a"), versions: ["1.0.0"], key: sk, serial: 20 });
    // The same version published again with other bytes (another layout, same tree once installed).
    await makeFakeRelease({ out: join(WWW, "repub-b"), versions: ["1.0.0:flat"], key: sk, serial: 21 });
  });

  const markerOf = (dir: string) =>
    JSON.parse(readFileSync(join(dir, MARKER_FILE), "utf8")) as { sha256: string };

  test("a version re-published with other bytes is installed afresh over its folder, not reused", async () => {
    const c = freshCase();
    const a = await install("repub-a", "1.0.0", c);
    const shaA = markerOf(a.result.dir).sha256;
    const before = host.requests.length;
    const b = await install("repub-b", "1.0.0", c);
    expect(b.result).toMatchObject({ dir: a.result.dir, reused: false, download: { kind: "full" } });
    const shaB = (await manifestOf("repub-b", c.workDir)).manifest.releases[0]?.artifacts[0]?.sha256;
    expect(markerOf(b.result.dir).sha256).toBe(shaB as string);
    expect(shaB).not.toBe(shaA);
    expect(host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"))).toHaveLength(1);
    expect(readdirSync(c.versionsDir)).toEqual(["1.0.0"]);
    // With the same bytes again, the folder is reused.
    expect((await install("repub-b", "1.0.0", c)).result.reused).toBe(true);
  });

  test("...but never over a folder in use: E_CONFLICT, the folder untouched, nothing downloaded", async () => {
    const c = freshCase();
    const a = await install("repub-a", "1.0.0", c);
    const marker = readFileSync(join(a.result.dir, MARKER_FILE), "utf8");
    const before = host.requests.length;
    const m = await manifestOf("repub-b", c.workDir);
    const err = await installVersion(options("repub-b", m, c, { inUse: ["1.0.0"] })).catch((e) => e as Error);
    expect(isUpkeepError(err) && err.code).toBe("E_CONFLICT");
    expect((err as Error).message).toContain("re-published with other bytes");
    expect(readFileSync(join(a.result.dir, MARKER_FILE), "utf8")).toBe(marker);
    expect(host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"))).toEqual([]);
    expect(readdirSync(c.versionsDir)).toEqual(["1.0.0"]);
  });
});

describe("free space", () => {
  const gz = () => tarGz(tar.file("hello/bin/hello", "#!/bin/sh\n", 0o755), tar.end());

  test("checked against the manifest's unpacked_size: E_NO_SPACE before any download", async () => {
    await publishCustom(join(WWW, "unpacked-big"), sk, [{ version: "1.0.0", gz: gz() }], {
      os: PLATFORM.os,
      arch: PLATFORM.arch,
      unpackedSize: 2 ** 52,
    });
    const before = host.requests.length;
    const err = await install("unpacked-big", "1.0.0").catch((e) => e as Error);
    expect(isUpkeepError(err) && err.code).toBe("E_NO_SPACE");
    expect((err as Error).message).toContain(`${2 ** 52} unpacked (the manifest's unpacked_size)`);
    expect(host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"))).toEqual([]);
  });

  test(`without unpacked_size: ${UNPACKED_FACTOR} x the artifact's size (twice was too little)`, async () => {
    const c = freshCase();
    const free = Number(statfsSync(c.versionsDir).bavail) * Number(statfsSync(c.versionsDir).bsize);
    // Twice this (the old rule) fits with room to spare; the download plus 4x does not.
    const size = Math.floor(free / 3);
    await publishCustom(join(WWW, "unpacked-none"), sk, [{ version: "1.0.0", gz: gz() }], {
      os: PLATFORM.os,
      arch: PLATFORM.arch,
      sizeOverride: size,
    });
    const before = host.requests.length;
    const err = await install("unpacked-none", "1.0.0", c).catch((e) => e as Error);
    expect(isUpkeepError(err) && err.code).toBe("E_NO_SPACE");
    expect((err as Error).message).toContain(`${UNPACKED_FACTOR} x its size`);
    expect(host.requests.slice(before).filter((r) => r.path.endsWith(".tar.gz"))).toEqual([]);
  });

  test("an archive that decompresses to more than its unpacked_size is refused (E_MALFORMED), nothing left", async () => {
    const archive = gz();
    await publishCustom(join(WWW, "unpacked-lie"), sk, [{ version: "1.0.0", gz: archive }], {
      os: PLATFORM.os,
      arch: PLATFORM.arch,
      unpackedSize: 1024,
    });
    const c = freshCase();
    const err = await install("unpacked-lie", "1.0.0", c).catch((e) => e as Error);
    expect(isUpkeepError(err) && err.code).toBe("E_MALFORMED");
    expect((err as Error).message).toContain("unpacked_size");
    expect(readdirSync(c.versionsDir)).toEqual([]);
  });
});

describe("download", () => {
  test("resume: the connection is cut halfway; the next request asks for the rest with Range; it verifies", async () => {
    await makeFakeRelease({ out: join(WWW, "resume"), versions: ["1.0.0"], key: sk, sizeMb: 2 });
    const name = artifactName("1.0.0");
    const size = statSync(join(WWW, "resume", name)).size;
    host.cutOnce.add(`/resume/${name}`);
    const before = host.requests.length;
    const { result } = await install("resume", "1.0.0");
    expect(result.reused).toBe(false);
    const reqs = host.requests.slice(before).filter((r) => r.path === `/resume/${name}`);
    expect(reqs.length).toBe(2);
    expect(reqs[0]?.range).toBeUndefined();
    expect(reqs[1]?.range).toBe(`bytes=${Math.floor(size / 2)}-`);
    expect(statSync(join(result.dir, "share/pad.bin")).size).toBe(2 * 1024 * 1024);
  });

  test("resume across runs: a .part left by an earlier run is hashed and continued", async () => {
    await makeFakeRelease({ out: join(WWW, "resume2"), versions: ["1.0.0"], key: sk, sizeMb: 1 });
    const name = artifactName("1.0.0");
    const full = readFileSync(join(WWW, "resume2", name));
    const c = freshCase();
    writeFileSync(join(c.versionsDir, `.download-${name}.part`), full.subarray(0, 300_000));
    const before = host.requests.length;
    await install("resume2", "1.0.0", c);
    const reqs = host.requests.slice(before).filter((r) => r.path === `/resume2/${name}`);
    expect(reqs.map((r) => r.range)).toEqual(["bytes=300000-"]);
    expect(readdirSync(c.versionsDir)).toEqual(["1.0.0"]);
  });

  test("a corrupt .part from an earlier run fails verification, is removed, and the next run succeeds", async () => {
    const name = artifactName("1.0.0");
    const c = freshCase();
    writeFileSync(join(c.versionsDir, `.download-${name}.part`), Buffer.alloc(1000, 0x41));
    expect(["E_SIGNATURE", "E_CHECKSUM"]).toContain(await codeOf(install("resume2", "1.0.0", c)));
    expect(readdirSync(c.versionsDir)).toEqual([]);
    expect((await install("resume2", "1.0.0", c)).result.reused).toBe(false);
  });

  test("progress is reported up to the total", async () => {
    const c = freshCase();
    const m = await manifestOf("resume", c.workDir);
    const seen: { received: number; total: number }[] = [];
    await installVersion(options("resume", m, c, { onProgress: (p) => seen.push(p) }));
    const last = seen[seen.length - 1];
    expect(last?.received).toBe(last?.total);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i]?.received).toBeGreaterThan(seen[i - 1]?.received ?? 0);
  });

  test("cancel: E_CANCELLED, the partial download and temp folders removed", async () => {
    const c = freshCase();
    const m = await manifestOf("resume", c.workDir);
    const ac = new AbortController();
    host.throttleMs = 20;
    try {
      const code = await codeOf(
        installVersion(
          options("resume", m, c, {
            signal: ac.signal,
            onProgress: (p) => {
              if (p.received > 100_000) ac.abort();
            },
          }),
        ),
      );
      expect(code).toBe("E_CANCELLED");
    } finally {
      host.throttleMs = 0;
    }
    expect(readdirSync(c.versionsDir)).toEqual([]);
  });

  test("content-encoding: a .tar.gz labelled gzip is saved as sent; a gzip-encoded manifest is decoded", async () => {
    const name = artifactName("1.0.0");
    host.extraHeaders.set(`/good/${name}`, { "content-encoding": "gzip" });
    const json = readFileSync(join(WWW, "good", "hello-releases.json"));
    host.overrides.set("/good/hello-releases.json", new Uint8Array(gzipSync(json)));
    host.extraHeaders.set("/good/hello-releases.json", { "content-encoding": "gzip" });
    try {
      expect((await install("good", "1.0.0")).result.reused).toBe(false);
    } finally {
      host.extraHeaders.clear();
      host.overrides.delete("/good/hello-releases.json");
    }
  });

  test("a stalled transfer is given up after the idle timeout (E_NETWORK), the .part kept for resume", async () => {
    const c = freshCase();
    const m = await manifestOf("resume", c.workDir);
    host.throttleMs = 3000;
    const started = performance.now();
    let err: unknown;
    try {
      await installVersion(options("resume", m, c, { idleTimeoutMs: 200 }));
    } catch (e) {
      err = e;
    } finally {
      host.throttleMs = 0;
    }
    expect(isUpkeepError(err) && err.code).toBe("E_NETWORK");
    expect((err as Error).message).toMatch(/no data for/);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(readdirSync(c.versionsDir)).toEqual([`.download-${artifactName("1.0.0")}.part`]);
    expect((await install("resume", "1.0.0", c)).result.reused).toBe(false);
  });

  test("redirects are followed only to URLs checkUrl accepts", async () => {
    const name = artifactName("1.0.0");
    host.redirects.set(`/redir/hello-releases.json`, `${host.url}/good/hello-releases.json`);
    host.redirects.set(`/redir/hello-releases.json.minisig`, `${host.url}/good/hello-releases.json.minisig`);
    host.redirects.set(`/redir/${name}`, `${host.url}/good/${name}`);
    host.redirects.set(`/redir/${name}.minisig`, `${host.url}/good/${name}.minisig`);
    expect((await install("redir", "1.0.0")).result.reused).toBe(false);
    host.redirects.set(`/redir/${name}`, `http://upkeep-test.invalid/good/${name}`);
    expect(await codeOf(install("redir", "1.0.0"))).toBe("E_INSECURE_URL");
  });
});

describe("URLs", () => {
  test("https anywhere; http only on loopback or with insecure; nothing else", async () => {
    for (const ok of [
      "https://cdn.example.com/hello",
      "http://127.0.0.1:8080/x",
      "http://127.9.9.9/x",
      "http://localhost:1/x",
      "http://[::1]:80/x",
    ]) {
      expect(await codeOf(() => checkUrl(ok, false))).toBe("no error");
    }
    for (const bad of [
      "http://cdn.example.com/x",
      "http://10.0.0.1/x",
      "http://127.0.0.1.example.com/x",
      "http://128.0.0.1/",
    ]) {
      expect(await codeOf(() => checkUrl(bad, false))).toBe("E_INSECURE_URL");
      expect(await codeOf(() => checkUrl(bad, true))).toBe("no error");
    }
    for (const never of ["ftp://example.com/x", "file:///etc/passwd", "not a url"]) {
      expect(await codeOf(() => checkUrl(never, true))).toBe("E_INSECURE_URL");
    }
    let message = "";
    try {
      checkUrl("http://cdn.example.com/x", false);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("http://cdn.example.com/x");
  });

  test("an insecure base URL is refused before any request", async () => {
    const before = host.requests.length;
    const src: InstallSource = {
      baseUrl: "http://upkeep-test.invalid/r",
      product: "hello",
      trustedKeys: keys,
    };
    expect(await codeOf(fetchVerifiedManifest(src, { now: new Date(), workDir: freshCase().workDir }))).toBe(
      "E_INSECURE_URL",
    );
    expect(host.requests.length).toBe(before);
  });
});

describe("versions folder", () => {
  test("versionDirName", () => {
    const p = (edition: "oss" | "ent", fips: boolean): Platform => ({
      os: "linux",
      arch: "amd64",
      edition,
      fips,
    });
    expect(versionDirName("17.0.1", p("oss", false))).toBe("17.0.1");
    expect(versionDirName("17.0.1", p("ent", false))).toBe("17.0.1_ent");
    expect(versionDirName("17.0.1", p("ent", true))).toBe("17.0.1_ent_fips");
    expect(versionDirName("17.0.1", p("oss", true))).toBe("17.0.1_fips");
    expect(versionDirName("v17.0.1", p("oss", false))).toBe("17.0.1");
    expect(versionDirName("17.0.1-rc.1", p("oss", false))).toBe("17.0.1-rc.1");
  });

  test("currentPlatform", () => {
    const p = currentPlatform("ent", true);
    expect(["linux", "darwin"]).toContain(p.os);
    expect(["amd64", "arm64"]).toContain(p.arch);
    expect(p.edition).toBe("ent");
    expect(p.fips).toBe(true);
  });

  test("isCompleteVersionDir: marker present and parseable, on a real folder", () => {
    const c = freshCase();
    const d = join(c.versionsDir, "1.0.0");
    mkdirSync(d);
    expect(isCompleteVersionDir(d)).toBe(false);
    writeFileSync(join(d, MARKER_FILE), '{"version":"1.0.0","artifact":"x","sha2');
    expect(isCompleteVersionDir(d)).toBe(false);
    writeFileSync(
      join(d, MARKER_FILE),
      JSON.stringify({
        version: "1.0.0",
        artifact: "x",
        sha256: "a".repeat(64),
        installed_at: "2026-01-01T00:00:00Z",
      }),
    );
    expect(isCompleteVersionDir(d)).toBe(true);
    symlinkSync(d, join(c.versionsDir, "1.0.1"));
    expect(isCompleteVersionDir(join(c.versionsDir, "1.0.1"))).toBe(false);
    expect(isCompleteVersionDir(join(c.versionsDir, "missing"))).toBe(false);
  });

  test("listInstalledVersions: version folders only, oldest first, temp folders never listed", async () => {
    const c = freshCase();
    for (const v of ["1.2.0", "1.0.0", "1.1.0"]) await install("good", v, c);
    mkdirSync(join(c.versionsDir, ".tmp-abc"));
    mkdirSync(join(c.versionsDir, "1.10.0"));
    writeFileSync(join(c.versionsDir, "notes.txt"), "");
    expect(listInstalledVersions(c.versionsDir).map((v) => [v.name, v.complete])).toEqual([
      ["1.0.0", true],
      ["1.1.0", true],
      ["1.2.0", true],
      ["1.10.0", false],
    ]);
    expect(listInstalledVersions(join(c.root, "nope"))).toEqual([]);
  });

  test("cleanVersionsDir: temp folders, stale .part files, incomplete and unkept versions go; fresh .part stays", async () => {
    const c = freshCase();
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await install("good", v, c);
    mkdirSync(join(c.versionsDir, ".tmp-0123/hello/bin"), { recursive: true });
    writeFileSync(join(c.versionsDir, ".download-old.tar.gz.part"), "x");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(c.versionsDir, ".download-old.tar.gz.part"), twoDaysAgo, twoDaysAgo);
    writeFileSync(join(c.versionsDir, ".download-fresh.tar.gz.part"), "x");
    mkdirSync(join(c.versionsDir, "1.5.0"));
    writeFileSync(join(c.versionsDir, "notes.txt"), "");
    const removed = cleanVersionsDir(c.versionsDir, ["1.1.0", join(c.versionsDir, "1.2.0")]);
    expect(removed).toEqual([".download-old.tar.gz.part", ".tmp-0123", "1.0.0", "1.5.0"]);
    expect(readdirSync(c.versionsDir).sort()).toEqual([
      ".download-fresh.tar.gz.part",
      "1.1.0",
      "1.2.0",
      "notes.txt",
    ]);
    expect(cleanVersionsDir(c.versionsDir, ["1.1.0", "1.2.0"])).toEqual([]);
  });

  test("cleanVersionsDir does not follow links out of the versions folder", async () => {
    const c = freshCase();
    const outside = join(c.root, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "keep"), "x");
    symlinkSync(outside, join(c.versionsDir, ".tmp-link"));
    expect(cleanVersionsDir(c.versionsDir, [])).toEqual([".tmp-link"]);
    expect(readdirSync(outside)).toEqual(["keep"]);
  });
});

describe("switchSymlink", () => {
  test("switch, previous, revert; first switch creates the link and revert removes it", async () => {
    const c = freshCase();
    const link = join(c.root, "current");
    const first = await switchSymlink(link, "versions/1.0.0");
    expect(first.previous).toBeUndefined();
    expect(readlinkSync(link)).toBe("versions/1.0.0");
    const second = await switchSymlink(link, "versions/1.1.0");
    expect(second.previous).toBe("versions/1.0.0");
    expect(readlinkSync(link)).toBe("versions/1.1.0");
    await second.revert();
    expect(readlinkSync(link)).toBe("versions/1.0.0");
    await first.revert();
    expect(existsSync(link) || lstatSync(link, { throwIfNoEntry: false }) !== undefined).toBe(false);
    expect(readdirSync(c.root)).toEqual(["versions"]);
  });

  test("a link path holding a real file or folder is E_EXISTS, left alone", async () => {
    const c = freshCase();
    const link = join(c.root, "current");
    writeFileSync(link, "not a link");
    expect(await codeOf(switchSymlink(link, "versions/1.0.0"))).toBe("E_EXISTS");
    expect(readFileSync(link, "utf8")).toBe("not a link");
  });

  test("atomic: a reader in another process never finds the link missing during 300 switches", async () => {
    const c = freshCase();
    const link = join(c.root, "current");
    await switchSymlink(link, "a");
    const reader = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const fs = require("node:fs"); let miss = 0, reads = 0; const end = Date.now() + 1500;
         while (Date.now() < end) { try { fs.readlinkSync(${JSON.stringify(link)}); reads++; } catch { miss++; } }
         console.log(JSON.stringify({ miss, reads }));`,
      ],
      { stdout: "pipe" },
    );
    await Bun.sleep(100);
    for (let i = 0; i < 300; i++) await switchSymlink(link, i % 2 ? "a" : "b");
    const out = JSON.parse(await new Response(reader.stdout).text());
    await reader.exited;
    expect(out.miss).toBe(0);
    expect(out.reads).toBeGreaterThan(100);
    expect(readdirSync(c.root).sort()).toEqual(["current", "versions"]);
  });
});

describe("installVersion's own refusals and races", () => {
  test("a manifest of another product: E_MALFORMED before any download", async () => {
    const c = freshCase();
    const manifest = await manifestOf("good", c.workDir);
    const other = { ...source("good"), product: "other" };
    const go = installVersion({
      source: other,
      manifest,
      version: "1.0.0",
      platform: PLATFORM,
      versionsDir: c.versionsDir,
    });
    await expect(go).rejects.toThrow("the manifest is for hello, not other");
    expect(readdirSync(c.versionsDir)).toEqual([]);
  });

  test("a versions folder that cannot be made: E_IO naming it", async () => {
    const c = freshCase();
    writeFileSync(join(c.root, "file"), "");
    const versionsDir = join(c.root, "file", "versions");
    const manifest = await manifestOf("good", c.workDir);
    const go = () =>
      installVersion({ source: source("good"), manifest, version: "1.0.0", platform: PLATFORM, versionsDir });
    expect(await codeOf(go)).toBe("E_IO");
    await expect(go()).rejects.toThrow(`cannot create ${versionsDir}`);
  });

  test("another installer finished the same version meanwhile: its folder is kept, the stage dropped", async () => {
    const done = await install("good", "1.0.0");
    const c = freshCase();
    const manifest = await manifestOf("good", c.workDir);
    const dir = join(c.versionsDir, versionDirName("1.0.0", PLATFORM));
    const r = await installVersion(
      options("good", manifest, c, {
        onStep: (s) => {
          if (s === "marker") cpSync(done.result.dir, dir, { recursive: true });
        },
      }),
    );
    expect(r).toMatchObject({ dir, reused: false });
    expect(readFileSync(join(dir, MARKER_FILE), "utf8")).toBe(
      readFileSync(join(done.result.dir, MARKER_FILE), "utf8"),
    );
    expect(readdirSync(c.versionsDir)).toEqual([versionDirName("1.0.0", PLATFORM)]);
  });
});

test("a fresh install passes every named step (fault point) once, in INSTALL_STEPS' order", async () => {
  const c = freshCase();
  const steps: string[] = [];
  await installVersion(
    options("good", await manifestOf("good", c.workDir), c, { onStep: (s) => steps.push(s) }),
  );
  expect(steps).toEqual([...INSTALL_STEPS]);
});
