/**
 * The shared installer under `upkeep tools` (compiled binary, real serve): a signed release the installer
 * refuses only after extracting it (`bin` a file, `bin` a symlink) leaves nothing in the tools folder, however
 * often `tools exec` tries it; a leftover of a crashed install is swept by the next install.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loggedInDeveloper, publish, STACK, setToolsTarget, useWorld, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

let w: World;

useWorld(
  "tools-refused",
  async (world) => {
    w = world;
    await publish(w, ["7.0.0", "7.1.0:binfile", "7.2.0:binlink"]);
    await setToolsTarget(w, "7.0.0");
  },
  { serveArgs: ["--server-version", "7.9.0"] },
);

const loggedIn = () => loggedInDeveloper(w);

/** What installs leave in the tools folder: temp folders and downloads. */
const leftovers = (tools: string) =>
  readdirSync(tools).filter((n) => n.startsWith(".tmp-") || n.startsWith(".download-"));

describe("tools exec of a release refused after extraction", () => {
  for (const [version, what] of [
    ["7.1.0", "a file"],
    ["7.2.0", "a symlink"],
  ] as const) {
    test(`bin is ${what}: refused with E_MALFORMED every time, nothing left in the tools folder`, async () => {
      const u = await loggedIn();
      for (let i = 0; i < 3; i++) {
        const r = await upkeep(["tools", "exec", "hello", "version"], {
          env: { ...u.env, UPKEEP_TOOLS_VERSION: version },
        });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('"bin" that is not a folder');
        expect(r.stderr).toContain("E_MALFORMED");
        expect(r.stderr).not.toMatch(STACK);
        expect(leftovers(u.tools)).toEqual([]);
      }
      expect(readdirSync(u.tools).filter((n) => /^\d/.test(n))).toEqual([]);
    });
  }

  test("a temp folder a crashed install left is swept by the next install", async () => {
    const u = await loggedIn();
    mkdirSync(join(u.tools, ".tmp-crashed/hello/bin"), { recursive: true });
    writeFileSync(join(u.tools, ".tmp-crashed/hello/bin/hello"), "half");
    const r = await upkeep(["tools", "exec", "hello", "version"], { env: u.env });
    expect(r.stdout.trim()).toBe("hello v7.0.0");
    expect(leftovers(u.tools)).toEqual([]);
  });
});
