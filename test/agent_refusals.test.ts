/**
 * What the agent refuses to install (DESIGN §5-§6), end to end against a real serve: malicious archives of
 * every kind (signed and listed, so only the extractor stops them), tampered bytes, a missing signature,
 * a manifest signed by a key the host does not trust. Each refusal leaves the old version running, update.yaml
 * accurate, and nothing written outside the install dir.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BAD_KINDS, type BadKind } from "../scripts/fake-release.ts";
import {
  ADMIN,
  agent,
  currentDir,
  enable,
  enableArgs,
  enabledHost,
  type Host,
  host,
  type Mirror,
  publish,
  readStateFile,
  STACK,
  setTarget,
  startMirror,
  useWorld,
  versionDirs,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;
let h: Host;
const badVersion = new Map(BAD_KINDS.map((k, i) => [k, `11.${i + 1}.0`]));
/** Signed releases the layout refuses after extraction: `bin` a file, `bin` a symlink (below 11.9.0, serve's own). */
const badLayout = new Map([
  ["binfile", "11.8.1"],
  ["binlink", "11.8.2"],
]);
/** The counting mirror in front of serve's /artifacts. */
let mirror: Mirror;

/** Everything under `dir` except the install dir, as relative paths. */
function outside(dir: string, skip: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (join(d, e.name) === skip) continue;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, "");
  return out.sort();
}

const evil = () => readdirSync(tmpdir()).filter((n) => n.startsWith("upkeep-evil"));

useWorld("agent-refusals", async (world) => {
  w = world;
  const versions = [
    "11.0.0",
    "11.0.1",
    "11.0.2",
    ...[...badVersion].map(([k, v]) => `${v}:bad=${k}`),
    ...[...badLayout].map(([k, v]) => `${v}:${k}`),
  ];
  // 11.0.2 goes up without its signature.
  const rel = await publish(w, versions, "release", (r) => {
    const unsigned = r.artifacts.find((a) => a.version === "11.0.2");
    if (unsigned) rmSync(`${unsigned.path}.minisig`);
  });
  // 11.0.1's bytes are replaced on the server after publishing (one byte flipped).
  const tampered = rel.artifacts.find((a) => a.version === "11.0.1");
  if (!tampered) throw new Error("no 11.0.1");
  const bytes = new Uint8Array(await Bun.file(tampered.path).arrayBuffer());
  const mid = Math.floor(bytes.length / 2);
  bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
  const put = await fetch(`${w.url}/v1/artifacts/${tampered.name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN}` },
    body: bytes,
  });
  expect(put.status).toBe(201);
  await setTarget(w, "11.0.0");
  h = await enabledHost(w, "h");
});

/** The versions folder, hidden entries included (temp folders, downloads). */
const versionsEntries = (x: Host) => readdirSync(join(x.root, "versions")).sort();

/**
 * One refused update of `h` to `version`. `skipped`: a verdict on the release (the version goes on the skip
 * list, its download is removed); otherwise the mirror's problem (tried again; a download whose signature was
 * missing is kept for that next try).
 */
async function refused(version: string, skipped: boolean): Promise<{ code?: string; message: string }> {
  await setTarget(w, version, "11.0.0");
  const before = outside(join(w.dir, "h"), h.installDir);
  const evilBefore = evil();
  const r = await agent(h, ["update", "--now", "--json"]);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.code).toBe(1);
  const out = JSON.parse(r.stdout) as { outcome: string; code?: string; message: string };
  expect(out.outcome).toBe("failed");
  // The old version still runs, update.yaml says so, nothing half-made is taken for a version.
  expect(currentDir(h)).toBe("11.0.0");
  expect(readStateFile(h).status.active).toBe("11.0.0");
  expect(readStateFile(h).status.updating).toBeUndefined();
  expect(versionDirs(h).filter((v) => v !== "11.0.0")).toEqual([]);
  // Nothing else either: no temp folder, and no download of bytes that were refused.
  const left = versionsEntries(h).filter((n) => skipped || !n.startsWith(".download-"));
  expect(left).toEqual(["11.0.0"]);
  // A refused archive is a verdict on the release: skipped until pinned. Bytes that do not match the
  // signed manifest are the mirror's: tried again.
  expect(readStateFile(h).status.skip.includes(version)).toBe(skipped);
  // Nothing written outside the install dir (the host folder holds only it and the bin dir; no escapee in /tmp).
  expect(outside(join(w.dir, "h"), h.installDir)).toEqual(before);
  expect(evil()).toEqual(evilBefore);
  expect(existsSync(join(w.dir, "upkeep-evil"))).toBe(false);
  expect(existsSync(join(w.dir, "h", "upkeep-evil"))).toBe(false);
  return { ...(out.code ? { code: out.code } : {}), message: out.message };
}

/** What the extractor says of each malicious archive: always E_UNSAFE_ARCHIVE, and why (DESIGN §6). */
const badReason: Record<BadKind, string> = {
  "abs-path": "absolute path",
  dotdot: 'the path has a ".." component',
  "symlink-out": 'symlink target "../../.." points outside the tree',
  "hardlink-out": 'the hardlink target "../../etc/passwd" has a ".." component',
  device: "a character device: device and fifo entries are refused",
  setuid: "setuid, setgid or sticky bit (mode 4755)",
  "too-many-files": "the archive has more than 10000 entries",
  "gzip-bomb": "the archive's files exceed 4294967296 bytes",
};

describe("malicious archives are refused, nothing lands outside the install dir", () => {
  for (const kind of BAD_KINDS) {
    test(`${kind}: E_UNSAFE_ARCHIVE, ${badReason[kind]}`, async () => {
      const r = await refused(badVersion.get(kind) as string, true);
      expect(r.code).toBe("E_UNSAFE_ARCHIVE");
      expect(r.message).toContain("unsafe archive entry");
      expect(r.message).toContain(badReason[kind]);
    });
  }
});

describe("a release refused after extraction leaves nothing and is never downloaded again", () => {
  let x: Host;
  beforeAll(async () => {
    mirror = startMirror(w);
    await setTarget(w, "11.0.0");
    x = host(w, "counted");
    const r = await enable(w, x, ["--base-url", `${mirror.url}/artifacts`]);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  for (const [kind, version] of badLayout) {
    test(`${kind}: E_MALFORMED once, then skipped; one download in all; versions/ holds only the active version`, async () => {
      await setTarget(w, version, "11.0.0");
      const outcomes: string[] = [];
      for (let pass = 0; pass < 3; pass++) {
        const r = await agent(x, ["update", "--now", "--json"]);
        expect(r.stderr).not.toMatch(STACK);
        const out = JSON.parse(r.stdout) as { outcome: string; code?: string; message: string };
        outcomes.push(`${out.outcome}${out.code ? ` ${out.code}` : ""}`);
        if (pass > 0) expect(out.message).toContain(`${version} failed on this host before and is skipped`);
        expect(versionsEntries(x)).toEqual(["11.0.0"]);
        expect(currentDir(x)).toBe("11.0.0");
      }
      expect(outcomes).toEqual(["failed E_MALFORMED", "unchanged", "unchanged"]);
      expect(readStateFile(x).status.skip).toContain(version);
      const downloads = [...mirror.requests.entries()].filter(
        ([p]) => p.includes(`-v${version}-`) && p.endsWith(".tar.gz"),
      );
      expect(downloads.map(([, n]) => n)).toEqual([1]);
    });
  }
});

describe("trust refusals", () => {
  test("tampered bytes: refused (the signature and the manifest's sha256 no longer match)", async () => {
    const r = await refused("11.0.1", false);
    console.log(`tampered: ${r.code}: ${r.message}`);
    expect(["E_CHECKSUM", "E_SIGNATURE"]).toContain(r.code as string);
  });

  test("a missing signature: refused", async () => {
    const r = await refused("11.0.2", false);
    console.log(`unsigned: ${r.code}: ${r.message}`);
    expect(r.code).toBe("E_SIGNATURE");
    expect(r.message).toContain("not signed");
  });

  test("a manifest signed by a key this host does not trust: enable refuses, writes nothing", async () => {
    const other = join(w.dir, "other-keys");
    expect((await upkeep(["release", "keygen", "--out-dir", other, "--unencrypted"])).code).toBe(0);
    await setTarget(w, "11.0.0");
    const x = host(w, "wrongkey");
    // The helpers' enable with the other key instead of the world's.
    const r = await upkeep(enableArgs(w, x).map((a) => (a === w.pub ? join(other, "upkeep.pub") : a)));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("E_SIGNATURE");
    expect(r.stderr).toContain("nothing was enabled");
    expect(existsSync(x.root)).toBe(false);
    expect(existsSync(join(x.binDir, "hello"))).toBe(false);
  });

  test("after all that, a good release still installs", async () => {
    await publish(w, ["11.0.0", "11.9.0"], "release2");
    await setTarget(w, "11.9.0", "11.0.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    // No `agent run` loop here: switched now, health checked when the loop starts the daemon.
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "switched", from: "11.0.0", to: "11.9.0" });
    expect(currentDir(h)).toBe("11.9.0");
    expect(readStateFile(h).status).toMatchObject({
      active: "11.9.0",
      backup: "11.0.0",
      updating: { from: "11.0.0", to: "11.9.0" },
    });
  });
});
