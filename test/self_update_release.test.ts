/**
 * Releasing upkeep itself with `upkeep release` as a release engineer would: the executable named
 * upkeep-v<version>-<os>-<arch>, `release sign`, `release manifest --product upkeep` (and --add for the next),
 * `admin publish`; hosts then fetch and verify it (fetchVerifiedUpdater) with the release key.
 */
import { beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrustedKeys } from "../core/sys/keys.ts";
import { fetchVerifiedUpdater } from "../core/sys/self/fetch_updater.ts";
import { adminOk, useWorld, type World } from "./agent_helpers.ts";
import { keygenIn, UPKEEP, upkeep } from "./cli.ts";

let w: World;
useWorld("selfrel", async (world) => {
  w = world;
});

let key: { key: string; pub: string };
beforeAll(async () => {
  key = await keygenIn(join(w.dir, "release-key"));
});

async function ok(args: string[]) {
  const r = await upkeep(args, { env: w.env });
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** `release manifest` of `product`, signed with the release key, written to `out`, with `rest` (flags, files). */
const manifestArgs = (product: string, out: string, ...rest: string[]) => [
  "release",
  "manifest",
  "--key",
  key.key,
  "--product",
  product,
  "--out",
  out,
  ...rest,
];

test("release sign + release manifest --product upkeep + admin publish: hosts fetch and verify it", async () => {
  const out = join(w.dir, "out");
  const v1 = join(out, "upkeep-v1.0.0-linux-amd64");
  const v2 = join(out, "upkeep-v1.1.0-linux-amd64");
  mkdirSync(out, { recursive: true });
  copyFileSync(UPKEEP, v1);
  await ok(["release", "sign", "--key", key.key, "--sha256", v1]);
  const m1 = await ok(manifestArgs("upkeep", out, "--json", v1));
  expect(JSON.parse(m1.stdout)).toMatchObject({ versions: ["1.0.0"] });
  const manifest = JSON.parse(readFileSync(join(out, "upkeep-releases.json"), "utf8"));
  expect(manifest.product).toBe("upkeep");
  expect(manifest.releases[0].artifacts[0]).not.toHaveProperty("unpacked_size"); // an executable, not an archive
  // The next release is added to the same manifest, with a higher serial.
  copyFileSync(UPKEEP, v2);
  await ok(["release", "sign", "--key", key.key, v2]);
  const m2 = await ok(manifestArgs("upkeep", out, "--add", "--floor", "1.1.0", "--json", v2));
  const second = JSON.parse(m2.stdout);
  expect(second.versions).toEqual(["1.1.0", "1.0.0"]);
  expect(second.serial).toBeGreaterThan(JSON.parse(m1.stdout).serial);
  await adminOk(w, ["publish", v1, v2]);
  const keys = await loadTrustedKeys([key.pub]);
  const base = { baseUrl: `${w.url}/artifacts`, os: "linux", arch: "amd64", keys, state: {} };
  const dest = join(w.dir, "host", "upkeep");
  const got = await fetchVerifiedUpdater({ ...base, version: "1.1.0", dest });
  expect(got.serial).toBe(second.serial);
  expect(readFileSync(dest)).toEqual(readFileSync(UPKEEP));
  // The floor the release engineer set holds.
  const below = join(w.dir, "host2", "upkeep");
  await expect(fetchVerifiedUpdater({ ...base, version: "1.0.0", dest: below })).rejects.toMatchObject({
    code: "E_BELOW_FLOOR",
  });
  expect(existsSync(below)).toBe(false);
});

test("a product's tarball name under --product upkeep, or an executable under another product, is refused", async () => {
  const out = join(w.dir, "bad");
  mkdirSync(out, { recursive: true });
  const exe = join(out, "hello-v1.0.0-linux-amd64");
  copyFileSync(UPKEEP, exe);
  const r = await upkeep(manifestArgs("hello", out, exe));
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('"hello-v1.0.0-linux-amd64" is not an artifact of hello');
  expect(existsSync(join(out, "hello-releases.json"))).toBe(false);
});
