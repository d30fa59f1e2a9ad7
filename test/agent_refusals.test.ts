/**
 * What the agent refuses to install (DESIGN §5-§6), end to end against a real serve: malicious archives of
 * every kind (signed and listed, so only the extractor stops them), tampered bytes, a missing signature,
 * a manifest signed by a key the host does not trust. Each refusal leaves the old version running, update.yaml
 * accurate, and nothing written outside the install dir.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BAD_KINDS } from "../scripts/fake-release.ts";
import {
  ADMIN,
  agent,
  cleanup,
  currentDir,
  enable,
  type Host,
  host,
  publish,
  readStateFile,
  STACK,
  setTarget,
  startWorld,
  versionDirs,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;
let h: Host;
const badVersion = new Map(BAD_KINDS.map((k, i) => [k, `11.${i + 1}.0`]));

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

beforeAll(async () => {
  w = await startWorld("agent-refusals");
  const versions = ["11.0.0", "11.0.1", "11.0.2", ...[...badVersion].map(([k, v]) => `${v}:bad=${k}`)];
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
  h = host(w, "h");
  const r = await enable(w, h);
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => {
  if (w) {
    await w.stop();
    cleanup(w.dir);
  }
});

async function refused(version: string): Promise<{ code?: string; message: string }> {
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
  // Nothing written outside the install dir (the host folder holds only it and the bin dir; no escapee in /tmp).
  expect(outside(join(w.dir, "h"), h.installDir)).toEqual(before);
  expect(evil()).toEqual(evilBefore);
  expect(existsSync(join(w.dir, "upkeep-evil"))).toBe(false);
  expect(existsSync(join(w.dir, "h", "upkeep-evil"))).toBe(false);
  return { ...(out.code ? { code: out.code } : {}), message: out.message };
}

describe("malicious archives are refused, nothing lands outside the install dir", () => {
  for (const kind of BAD_KINDS) {
    test(kind, async () => {
      const r = await refused(badVersion.get(kind) as string);
      console.log(`${kind}: ${r.code}: ${r.message}`);
      expect(r.code).toBeDefined();
    });
  }
});

describe("trust refusals", () => {
  test("tampered bytes: refused (the signature and the manifest's sha256 no longer match)", async () => {
    const r = await refused("11.0.1");
    console.log(`tampered: ${r.code}: ${r.message}`);
    expect(["E_CHECKSUM", "E_SIGNATURE"]).toContain(r.code as string);
  });

  test("a missing signature: refused", async () => {
    const r = await refused("11.0.2");
    console.log(`unsigned: ${r.code}: ${r.message}`);
    expect(r.code).toBe("E_SIGNATURE");
    expect(r.message).toContain("not signed");
  });

  test("a manifest signed by a key this host does not trust: enable refuses, writes nothing", async () => {
    const other = join(w.dir, "other-keys");
    expect((await upkeep(["release", "keygen", "--out-dir", other, "--unencrypted"])).code).toBe(0);
    await setTarget(w, "11.0.0");
    const x = host(w, "wrongkey");
    const r = await upkeep([
      "agent",
      "enable",
      "--server",
      w.url,
      "--product",
      "hello",
      "--base-url",
      `${w.url}/artifacts`,
      "--trust-key",
      join(other, "upkeep.pub"),
      "--install-dir",
      x.installDir,
      "--bin-dir",
      x.binDir,
      "--service",
      "supervise",
    ]);
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
