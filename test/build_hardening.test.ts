/**
 * The compiled executable takes no configuration and runs no code from the directory it is started in.
 * By default a Bun standalone executable loads `.env` and `bunfig.toml` from the working directory; for an
 * updater that would let any checked-out repository redirect a developer's client tools (a `.env` setting
 * UPKEEP_TOOLS_DIR or UPKEEP_TOOLS_TRUST_KEY) or run code inside the agent (`preload` in bunfig.toml).
 * scripts/build.ts turns both off; this proves it on dist/upkeep.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { upkeep } from "./cli.ts";

const work = mkdtempSync(join(tmpdir(), "upkeep-hardening-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("a .env and a bunfig.toml in the working directory are ignored", async () => {
  const repo = join(work, "some-repo");
  const mine = join(work, "my-tools");
  const evil = join(work, "evil-tools");
  const marker = join(work, "preload-ran");
  mkdirSync(repo);
  writeFileSync(join(repo, ".env"), `UPKEEP_TOOLS_DIR=${evil}\nUPKEEP_TOOLS_VERSION=6.6.6\n`);
  writeFileSync(
    join(repo, "evil.ts"),
    `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`,
  );
  writeFileSync(join(repo, "bunfig.toml"), 'preload = ["./evil.ts"]\n');

  const r = await upkeep(["tools", "status", "--json"], { cwd: repo, env: { UPKEEP_TOOLS_DIR: mine } });
  expect(r.code).toBe(0);
  const status = JSON.parse(r.stdout);
  expect(status.tools_dir).toBe(mine);
  expect(status.env_version).toBeNull();
  expect(existsSync(marker)).toBe(false);

  const v = await upkeep(["--version"], { cwd: repo });
  expect(v.code).toBe(0);
  expect(existsSync(marker)).toBe(false);
});
