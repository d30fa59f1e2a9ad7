/**
 * Delta downloads of upkeep's own executable (the self-update, issue 18): the release side on the compiled
 * binary (`release delta` between two executables, `release manifest --product upkeep` listing the patch),
 * the host side through fetchVerifiedUpdater (core/sys/self/fetch_updater.ts) from a loopback file server:
 * patched from the running executable when its bytes are the patch's base, the full executable otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTrustedKeys } from "../core/sys/keys.ts";
import { fetchVerifiedUpdater } from "../core/sys/self/fetch_updater.ts";
import type { PublicKey } from "../core/trust/minisign.ts";
import { noise } from "../scripts/fake_bytes.ts";
import { ADMIN, adminOk, buildUpkeep, useWorld, type World } from "./agent_helpers.ts";
import { collect, keygenIn, upkeep } from "./cli.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-delta-self-"));
const rel = join(dir, "rel");
const E = (v: string) => `upkeep-v${v}-linux-amd64`;
const PATCH = `${E("0.2.0")}.from-0.1.0.patch`;
let keys: PublicKey[];
let server: ReturnType<typeof Bun.serve>;
const requests: string[] = [];
const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

async function ok(args: string[]) {
  const r = await upkeep(args);
  if (r.code !== 0) throw new Error(`upkeep ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function setup(): Promise<void> {
  const k = await keygenIn(join(dir, "keys"));
  keys = await loadTrustedKeys([k.pub]);
  mkdirSync(rel);
  // Two "builds": 2 MiB of runtime in common, a bundle that differs a little, at the end.
  const runtime = noise(2 * 1024 * 1024, 7);
  writeFileSync(
    join(rel, E("0.1.0")),
    new Uint8Array([...runtime, ...new TextEncoder().encode("bundle 0.1.0")]),
  );
  writeFileSync(
    join(rel, E("0.2.0")),
    new Uint8Array([...runtime, ...new TextEncoder().encode("bundle 0.2.0!")]),
  );
  await ok([
    "release",
    "delta",
    "--key",
    k.key,
    "--from",
    join(rel, E("0.1.0")),
    "--to",
    join(rel, E("0.2.0")),
    "--out",
    rel,
    "--level",
    "3",
  ]);
  await ok(["release", "sign", "--key", k.key, join(rel, E("0.1.0")), join(rel, E("0.2.0"))]);
  await ok([
    "release",
    "manifest",
    "--key",
    k.key,
    "--product",
    "upkeep",
    "--out",
    rel,
    join(rel, E("0.1.0")),
    join(rel, E("0.2.0")),
    join(rel, PATCH),
  ]);
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const file = join(rel, path.slice(1));
      if (path.includes("..") || !existsSync(file)) return new Response("not found", { status: 404 });
      return new Response(Bun.file(file));
    },
  });
}

function teardown(): void {
  server?.stop(true);
  rmSync(dir, { recursive: true, force: true });
}

async function fetch020(base: string, dest: string, log: string[] = []) {
  return fetchVerifiedUpdater({
    baseUrl: `http://127.0.0.1:${server.port}`,
    version: "0.2.0",
    os: "linux",
    arch: "amd64",
    keys,
    dest,
    state: {},
    deltaBase: { path: base, version: "0.1.0" },
    log: (l) => log.push(l),
  });
}

/** `release delta` needs Debian's zstd (the release machine only); CI installs it, and there it must run. */
const HAS_ZSTD = Bun.which("zstd") !== null || Boolean(process.env.CI);

describe.if(HAS_ZSTD)("self-update through a patch", () => {
  beforeAll(setup);
  afterAll(teardown);

  test("the manifest of upkeep's own releases lists the raw patch", () => {
    const m = JSON.parse(readFileSync(join(rel, "upkeep-releases.json"), "utf8"));
    const a = m.releases[0].artifacts[0];
    expect(a.name).toBe(E("0.2.0"));
    expect(a.patches).toEqual([expect.objectContaining({ from: "0.1.0", name: PATCH })]);
  });

  test("from the running 0.1.0: only the patch is fetched, dest holds the signed 0.2.0 bytes", async () => {
    const before = requests.length;
    const dest = join(dir, "a", "upkeep");
    const r = await fetch020(join(rel, E("0.1.0")), dest);
    const want = readFileSync(join(rel, E("0.2.0")));
    expect(r.download).toEqual({
      kind: "delta",
      bytes: readFileSync(join(rel, PATCH)).length,
      full_bytes: want.length,
      from: "0.1.0",
    });
    expect(sha(readFileSync(dest))).toBe(sha(want));
    const got = requests.slice(before);
    expect(got).toContain(`/${PATCH}`);
    expect(got).not.toContain(`/${E("0.2.0")}`);
    expect(got).toContain(`/${E("0.2.0")}.minisig`);
  });

  test("a base with other bytes: the patch is not fetched, the full executable is", async () => {
    const other = join(dir, "other-0.1.0");
    const b = readFileSync(join(rel, E("0.1.0")));
    b[10] = (b[10] ?? 0) ^ 1;
    writeFileSync(other, b);
    const before = requests.length;
    const dest = join(dir, "b", "upkeep");
    const r = await fetch020(other, dest);
    expect(r.download).toMatchObject({ kind: "full" });
    expect(requests.slice(before)).not.toContain(`/${PATCH}`);
    expect(sha(readFileSync(dest))).toBe(sha(readFileSync(join(rel, E("0.2.0")))));
  });
});

describe.if(HAS_ZSTD)("upkeep self-update through a patch (two compiled builds, real serve)", () => {
  let world: World;
  let oldBuild: string;
  let newBuild: string;
  let patchSize = 0;
  useWorld("delta-selfupd", async (w) => {
    world = w;
    const testKey = await keygenIn(join(w.dir, "upkeep-test-key"));
    const out = join(w.dir, "upkeep-release");
    mkdirSync(out);
    oldBuild = join(out, E("0.9.0"));
    newBuild = join(out, E("1.0.0"));
    await buildUpkeep("0.9.0", oldBuild, testKey.pub);
    await buildUpkeep("1.0.0", newBuild, testKey.pub);
    const patch = join(out, `${E("1.0.0")}.from-0.9.0.patch`);
    await ok([
      "release",
      "delta",
      "--key",
      testKey.key,
      "--from",
      oldBuild,
      "--to",
      newBuild,
      "--out",
      out,
      "--level",
      "3",
    ]);
    patchSize = readFileSync(patch).length;
    await ok(["release", "sign", "--key", testKey.key, oldBuild, newBuild]);
    await ok([
      "release",
      "manifest",
      "--key",
      testKey.key,
      "--product",
      "upkeep",
      "--out",
      out,
      oldBuild,
      newBuild,
      patch,
    ]);
    await adminOk(w, ["publish", ...readdirSync(out).map((f) => join(out, f))]);
    await adminOk(w, ["apply", "-f", "-"], "kind: server\nupdater_version: 1.0.0\n");
  });

  test("the running 0.9.0 is replaced by 1.0.0 rebuilt from the patch; only the patch is downloaded", async () => {
    const dir = join(world.dir, "ws");
    mkdirSync(dir, { recursive: true });
    const exe = join(dir, "upkeep");
    writeFileSync(exe, readFileSync(oldBuild), { mode: 0o755 });
    const r = await collect(
      Bun.spawn([exe, "self-update", "--server", world.url, "--json"], {
        cwd: "/",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(world.dir, "home") },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      from: "0.9.0",
      to: "1.0.0",
      updated: true,
      download: { kind: "delta", bytes: patchSize, full_bytes: readFileSync(newBuild).length, from: "0.9.0" },
    });
    expect(sha(readFileSync(exe))).toBe(sha(readFileSync(newBuild)));
    expect(patchSize).toBeLessThan(readFileSync(newBuild).length / 20);
    const metrics = await (
      await fetch(`${world.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).text();
    expect(metrics).toMatch(/^upkeep_artifact_downloads_total\{kind="delta"\} 1$/m);
    expect(metrics).not.toMatch(/^upkeep_artifact_downloads_total\{kind="full"\}/m);
  });
});
