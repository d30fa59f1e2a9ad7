/**
 * The release key, from the release engineer to a developer's shell (issue 11, trap 3): `release keygen
 * --product NAME` writes NAME.key / NAME.pub, `admin publish --key NAME.pub` publishes it where `tools login`
 * without --trust-key looks (<base-url>/<product>.pub), and `tools login` takes UPKEEP_TOOLS_TRUST_KEY as the
 * other tools commands do. Compiled binary, real serve.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { developer, publish, setToolsTarget, useWorld, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

let w: World;
let keyId = "";
let pub = "";

useWorld("keys", async (world) => {
  w = world;
  // The product's own key pair, named after it.
  const kg = await upkeep([
    "release",
    "keygen",
    "--out-dir",
    join(w.dir, "pk"),
    "--product",
    "hello",
    "--unencrypted",
    "--json",
  ]);
  if (kg.code !== 0) throw new Error(kg.stderr);
  const out = JSON.parse(kg.stdout);
  keyId = out.key_id;
  pub = out.public_key;
  w.key = out.secret_key;
  await publish(w, ["3.0.0", "3.1.0"]);
  await setToolsTarget(w, "3.1.0");
});

const user = () => developer(w).env;

const login = (env: Record<string, string>, extra: string[] = []) =>
  upkeep(["tools", "login", "--server", w.url, "--product", "hello", ...extra], { env });

describe("the release key: keygen --product, admin publish --key, tools login", () => {
  test("keygen --product NAME writes NAME.key (0600) and NAME.pub; a bad name is refused first", async () => {
    expect(pub).toBe(join(w.dir, "pk", "hello.pub"));
    expect(w.key).toBe(join(w.dir, "pk", "hello.key"));
    expect(statSync(w.key).mode & 0o777).toBe(0o600);
    expect(readFileSync(pub, "utf8")).toStartWith(`untrusted comment: minisign public key ${keyId}\n`);
    const bad = await upkeep(["release", "keygen", "--out-dir", join(w.dir, "bad"), "--product", "Hello!"], {
      env: { UPKEEP_KEY_PASSWORD: "" },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--product "Hello!"');
    // Without --product the names stay as they were.
    const plain = await upkeep(["release", "keygen", "--out-dir", join(w.dir, "plain"), "--unencrypted"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(join(w.dir, "plain", "upkeep.pub"));
    expect(plain.stdout).toContain("upkeep admin publish --key");
  });

  test("tools login takes UPKEEP_TOOLS_TRUST_KEY when no key is published (no trust on first use)", async () => {
    // Nothing is published under hello.pub yet: the old login fetched it anyway and failed.
    expect((await fetch(`${w.url}/artifacts/hello.pub`)).status).toBe(404);
    const env = { ...user(), UPKEEP_TOOLS_TRUST_KEY: pub };
    const r = await login(env);
    expect(r.stderr).not.toContain("trust on first use");
    expect(r.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(env.UPKEEP_TOOLS_DIR, "tools.json"), "utf8"));
    expect(saved.trustKeys).toEqual([readFileSync(pub, "utf8").trim().split("\n")[1]]);
    // Without it, and nothing published: refused, saying where the key comes from.
    const none = await login(user());
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`${w.url}/artifacts/hello.pub`);
    expect(none.stderr).toContain("admin publish --key");
  });

  test("admin publish refuses a secret key as --key and nothing is uploaded", async () => {
    const r = await upkeep(["admin", "publish", "--key", w.key], { env: w.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("E_KEY");
    expect((await fetch(`${w.url}/artifacts/hello.pub`)).status).toBe(404);
    const missing = await upkeep(["admin", "publish", "--key", join(w.dir, "nope.pub")], { env: w.env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no such file");
    const nothing = await upkeep(["admin", "publish"], { env: w.env });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("nothing to publish");
  });

  test("admin publish --key publishes <product>.pub; tools login without --trust-key trusts it (TOFU, key id named)", async () => {
    const r = await upkeep(["admin", "publish", "--key", pub], { env: w.env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("uploaded hello.pub");
    expect(r.stdout).toContain(`public key ${keyId} published as ${w.url}/artifacts/hello.pub`);
    const served = await fetch(`${w.url}/artifacts/hello.pub`);
    expect(served.status).toBe(200);
    expect(await served.text()).toBe(readFileSync(pub, "utf8"));

    const env = user();
    const l = await login(env);
    expect(l.code).toBe(0);
    expect(l.stderr).toContain(`trusting the release key ${keyId} published at ${w.url}/artifacts/hello.pub`);
    const run = await upkeep(["tools", "exec", "hello", "version"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe("hello v3.1.0");

    // With artifact files in the same command: the key goes first, then the artifacts as before.
    const both = await upkeep(
      ["admin", "publish", "--key", pub, "--json", w.release?.artifacts[0]?.path ?? ""],
      {
        env: w.env,
      },
    );
    expect(both.code).toBe(0);
    const names = JSON.parse(both.stdout).uploaded.map((u: { name: string }) => u.name);
    expect(names[0]).toBe("hello.pub");
    expect(names).toContain("hello-releases.json");
  });
});
