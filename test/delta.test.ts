/**
 * Delta downloads end to end (issue 18), on the compiled binary and a real `serve`: releases packed with
 * `upkeep release pack`, a patch made with `upkeep release delta` and listed with `upkeep release manifest`,
 * published with `admin publish`; agents and a tools folder behind a counting mirror update through the patch,
 * fall back to the full artifact when the patch or the base is bad, never fetch a patch the manifest does not
 * list, and recover from kill -9 during the rebuild.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KEPT_ARTIFACT } from "../core/sys/install/mod.ts";
import { noise } from "../scripts/fake_bytes.ts";
import { helloScript } from "../scripts/fake-release.ts";
import {
  ADMIN,
  agent,
  currentDir,
  enabledHost,
  loggedInDeveloper,
  type Mirror,
  readStateFile,
  setTarget,
  startMirror,
  useWorld,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(120_000);

const A = (v: string) => `hello-v${v}-linux-amd64-bin.tar.gz`;
const P = (v: string, from: string) => `${A(v)}.from-${from}.patch`;

let w: World;
let mirror: Mirror;
/** Mirrors that corrupt the patch, and that count only. */
let corrupting: Mirror;
const facts = new Map<string, { size: number; sha256: string }>();

async function ok(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const r = await upkeep(args, { env, ...(stdin === undefined ? {} : { stdin }) });
  if (r.code !== 0) throw new Error(`upkeep ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/** `release manifest` of hello, signed with the world's key, written to `out`, with `rest` (flags, files). */
const manifestArgs = (out: string, ...rest: string[]) => [
  "release",
  "manifest",
  "--key",
  w.key,
  "--product",
  "hello",
  "--out",
  out,
  ...rest,
];

/** `hello` releases packed from folders: bin/hello (the version's script) and 3 MiB of shared data. */
async function releases(world: World, versions: string[]): Promise<string> {
  const out = join(world.dir, "rel");
  const pad = noise(3 * 1024 * 1024, 12345);
  for (const v of versions) {
    const src = join(world.dir, "src", v);
    mkdirSync(join(src, "bin"), { recursive: true });
    mkdirSync(join(src, "share"), { recursive: true });
    writeFileSync(join(src, "bin", "hello"), helloScript(v, "ok"));
    chmodSync(join(src, "bin", "hello"), 0o755);
    writeFileSync(join(src, "share", "data.bin"), pad);
    await ok([
      "release",
      "pack",
      "--product",
      "hello",
      "--version",
      v,
      "--os",
      "linux",
      "--arch",
      "amd64",
      "--out",
      out,
      src,
    ]);
    const bytes = readFileSync(join(out, A(v)));
    facts.set(v, { size: bytes.length, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex") });
  }
  return out;
}

async function setupWorld(world: World): Promise<void> {
  w = world;
  const out = await releases(w, ["11.0.0", "11.1.0", "11.2.0"]);
  const delta = (from: string, to: string) =>
    ok([
      "release",
      "delta",
      "--key",
      w.key,
      "--from",
      join(out, A(from)),
      "--to",
      join(out, A(to)),
      "--out",
      out,
      "--level",
      "3",
    ]);
  await delta("11.0.0", "11.1.0");
  // Made and published, but never listed: no host may fetch it.
  await delta("11.0.0", "11.2.0");
  const artifacts = ["11.0.0", "11.1.0", "11.2.0"].map((v) => join(out, A(v)));
  await ok(manifestArgs(out, ...artifacts, join(out, P("11.1.0", "11.0.0"))));
  await ok(["release", "sign", "--key", w.key, "--sha256", ...artifacts]);
  await ok(
    ["admin", "publish", ...artifacts, join(out, P("11.1.0", "11.0.0")), join(out, P("11.2.0", "11.0.0"))],
    w.env,
  );
  mirror = startMirror(w);
  corrupting = startMirror(w, {
    after: async (path, r) => {
      if (!path.endsWith(".patch")) return r;
      const b = new Uint8Array(await r.arrayBuffer());
      b[b.length - 40] = (b[b.length - 40] ?? 0) ^ 0xff; // same size: only the sha256 tells
      return new Response(b, { status: r.status, headers: { "content-type": "application/octet-stream" } });
    },
  });
}

/** Without a running `agent run` loop, supervise switches and leaves the health check to the loop. */
const UPDATED = ["updated", "switched"];

/** The tools target (the agents' stays 11.1.0: an apply replaces the whole resource). */
async function toolsTarget(version: string): Promise<void> {
  await ok(
    ["admin", "apply", "-f", "-"],
    w.env,
    `kind: autoupdate_version\nspec:\n  tools: { target_version: ${version} }\n  agents: { start_version: 11.1.0, target_version: 11.1.0, schedule: immediate, mode: enabled }\n`,
  );
}

const fetched = (m: Mirror, name: string) => m.requests.get(`/artifacts/${name}`) ?? 0;

/** A host on 11.0.0 (a full install), its base URL the given mirror. */
async function hostOn1100(name: string, m: Mirror) {
  await setTarget(w, "11.0.0");
  return enabledHost(w, name, ["--base-url", `${m.url}/artifacts`]);
}

function installedSha(root: string, version: string): string {
  const marker = JSON.parse(readFileSync(join(root, "versions", version, ".upkeep-complete"), "utf8"));
  return marker.sha256;
}

/** `release delta` needs Debian's zstd (the release machine only); CI installs it, and there it must run. */
const HAS_ZSTD = Bun.which("zstd") !== null || Boolean(process.env.CI);

describe.if(HAS_ZSTD)("delta downloads (compiled binary, real serve)", () => {
  useWorld("delta", setupWorld);

  test("release manifest lists the patch given, with its base; not the one left out", () => {
    const m = JSON.parse(readFileSync(join(w.dir, "rel", "hello-releases.json"), "utf8"));
    const r110 = m.releases.find((r: { version: string }) => r.version === "11.1.0");
    expect(r110.artifacts[0].patches).toEqual([
      expect.objectContaining({
        from: "11.0.0",
        name: P("11.1.0", "11.0.0"),
        base_sha256: facts.get("11.0.0")?.sha256,
      }),
    ]);
    const r120 = m.releases.find((r: { version: string }) => r.version === "11.2.0");
    expect(r120.artifacts[0].patches).toBeUndefined();
    expect(r110.artifacts[0].patches[0].size).toBeLessThan((facts.get("11.1.0")?.size ?? 0) / 20);
  });

  test("release manifest --add keeps the listed patches; a patch to other bytes or to an unlisted artifact is refused", async () => {
    const out = join(w.dir, "rel-add");
    mkdirSync(out);
    for (const f of [
      "hello-releases.json",
      "hello-releases.json.minisig",
      A("11.0.0"),
      A("11.2.0"),
      P("11.2.0", "11.0.0"),
    ])
      writeFileSync(join(out, f), readFileSync(join(w.dir, "rel", f)));
    await ok(manifestArgs(out, "--add", join(out, P("11.2.0", "11.0.0"))));
    const m = JSON.parse(readFileSync(join(out, "hello-releases.json"), "utf8"));
    const patches = (v: string) =>
      m.releases.find((r: { version: string }) => r.version === v).artifacts[0].patches;
    expect(patches("11.1.0").map((p: { name: string }) => p.name)).toEqual([P("11.1.0", "11.0.0")]);
    expect(patches("11.2.0").map((p: { name: string }) => p.name)).toEqual([P("11.2.0", "11.0.0")]);
    // A patch renamed to claim another artifact: its header says what it rebuilds.
    writeFileSync(join(out, P("11.1.0", "11.2.0")), readFileSync(join(out, P("11.2.0", "11.0.0"))));
    const bad = await upkeep(manifestArgs(out, "--add", join(out, P("11.1.0", "11.2.0"))));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`must be named ${P("11.2.0", "11.0.0")}`);
    const alone = await upkeep(manifestArgs(out, join(out, A("11.0.0")), join(out, P("11.2.0", "11.0.0"))));
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("which this manifest does not list");
  });

  test("an agent updates through the patch: only the patch is fetched, the bytes are the signed ones", async () => {
    const h = await hostOn1100("agent-delta", mirror);
    await setTarget(w, "11.1.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const patchSize = readFileSync(join(w.dir, "rel", P("11.1.0", "11.0.0"))).length;
    expect(j).toMatchObject({ from: "11.0.0", to: "11.1.0" });
    expect(UPDATED).toContain(j.outcome);
    expect(j.download).toEqual({
      kind: "delta",
      bytes: patchSize,
      full_bytes: facts.get("11.1.0")?.size,
      from: "11.0.0",
    });
    expect(fetched(mirror, A("11.1.0"))).toBe(0);
    expect(fetched(mirror, P("11.1.0", "11.0.0"))).toBe(1);
    expect(installedSha(h.root, "11.1.0")).toBe(facts.get("11.1.0")?.sha256 ?? "");
    // The rebuilt artifact is kept as the next base, and it is the signed artifact's bytes.
    const kept = readFileSync(join(h.root, "versions", "11.1.0", KEPT_ARTIFACT));
    expect(new Bun.CryptoHasher("sha256").update(kept).digest("hex")).toBe(facts.get("11.1.0")?.sha256 ?? "");
    expect(currentDir(h)).toBe("11.1.0");
    expect(readdirSync(join(h.root, "versions")).filter((n) => n.startsWith("."))).toEqual([]);
    // serve's /metrics counts the patch served and the bytes it saved.
    const metrics = await (
      await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).text();
    const saved = Number(/^upkeep_delta_bytes_saved_total (\d+)$/m.exec(metrics)?.[1] ?? "0");
    expect(saved).toBeGreaterThanOrEqual((facts.get("11.1.0")?.size ?? 0) - patchSize);
    expect(metrics).toMatch(/^upkeep_artifact_downloads_total\{kind="delta"\} [1-9]/m);
  });

  test("a corrupted patch falls back to the full artifact in the same pass, said once", async () => {
    const h = await hostOn1100("agent-corrupt", corrupting);
    await setTarget(w, "11.1.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ to: "11.1.0" });
    expect(UPDATED).toContain(j.outcome);
    expect(j.download).toEqual({
      kind: "full",
      bytes: facts.get("11.1.0")?.size,
      full_bytes: facts.get("11.1.0")?.size,
    });
    expect(r.stderr.match(/not used/g)?.length).toBe(1);
    expect(r.stderr).toContain("E_CHECKSUM");
    expect(installedSha(h.root, "11.1.0")).toBe(facts.get("11.1.0")?.sha256 ?? "");
    expect(readStateFile(h).status.active).toBe("11.1.0");
  });

  test("a tampered base is not used: the patch is not even fetched, the full artifact is", async () => {
    const h = await hostOn1100("agent-tampered", mirror);
    const before = fetched(mirror, P("11.1.0", "11.0.0"));
    const base = join(h.root, "versions", "11.0.0", KEPT_ARTIFACT);
    const b = readFileSync(base);
    b[100] = (b[100] ?? 0) ^ 1;
    writeFileSync(base, b);
    await setTarget(w, "11.1.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).download).toMatchObject({ kind: "full" });
    expect(r.stderr).toContain("changed on disk");
    expect(fetched(mirror, P("11.1.0", "11.0.0"))).toBe(before);
    expect(installedSha(h.root, "11.1.0")).toBe(facts.get("11.1.0")?.sha256 ?? "");
  });

  test("a patch the manifest does not list is never fetched", async () => {
    const h = await hostOn1100("agent-unlisted", mirror);
    await setTarget(w, "11.2.0");
    const r = await agent(h, ["update", "--now", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ to: "11.2.0", download: { kind: "full" } });
    expect(fetched(mirror, P("11.2.0", "11.0.0"))).toBe(0);
    expect([...mirror.requests.keys()].filter((p) => p.includes("11.2.0") && p.endsWith(".patch"))).toEqual(
      [],
    );
  });

  for (const point of ["install:patch-downloaded", "install:mid-rebuild", "install:rebuilt"]) {
    test(`kill -9 at ${point}: the next pass completes the update, nothing half-done is taken`, async () => {
      const h = await hostOn1100(`agent-kill-${point.split(":")[1]}`, mirror);
      await setTarget(w, "11.1.0");
      const fullBefore = fetched(mirror, A("11.1.0"));
      const killed = await agent(h, ["update", "--now", "--json"], { UPKEEP_FAULT: point });
      expect(killed.code).not.toBe(0);
      expect(readStateFile(h).status.active).toBe("11.0.0");
      expect(currentDir(h)).toBe("11.0.0");
      const r = await agent(h, ["update", "--now", "--json"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ to: "11.1.0" });
      // Never the full artifact: the patch again (after a kill before the rebuilt file became the .part), or
      // nothing at all (the complete .part is verified and extracted: "full" with 0 bytes fetched).
      expect(j.download.bytes).toBeLessThan((facts.get("11.1.0")?.size ?? 0) / 20);
      expect(fetched(mirror, A("11.1.0"))).toBe(fullBefore);
      expect(installedSha(h.root, "11.1.0")).toBe(facts.get("11.1.0")?.sha256 ?? "");
      expect(readdirSync(join(h.root, "versions")).filter((n) => n.startsWith("."))).toEqual([]);
    });
  }

  test("tools update through the patch: download in the JSON", async () => {
    await toolsTarget("11.0.0");
    const u = await loggedInDeveloper(w, ["--base-url", `${mirror.url}/artifacts`]);
    const first = await upkeep(["tools", "update", "--json"], { env: u.env });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).download).toMatchObject({
      kind: "full",
      bytes: facts.get("11.0.0")?.size,
    });
    await toolsTarget("11.1.0");
    const before = fetched(mirror, A("11.1.0"));
    const r = await upkeep(["tools", "update", "--json"], { env: u.env });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ version: "11.1.0", newly_installed: true });
    expect(j.download).toMatchObject({
      kind: "delta",
      full_bytes: facts.get("11.1.0")?.size,
      from: "11.0.0",
    });
    expect(j.download.bytes).toBeLessThan((facts.get("11.1.0")?.size ?? 0) / 20);
    expect(fetched(mirror, A("11.1.0"))).toBe(before);
    const ex = await upkeep(["tools", "exec", "hello", "version"], { env: u.env });
    expect(ex.stdout).toContain("hello v11.1.0");
  });
});
