/**
 * `<bin-dir>/<binary> -> <install-dir>/<ns>/current/bin/<binary>`: made once (they point through `current`,
 * so a switch needs no change), each atomically (a new symlink renamed over the old one). A file in the
 * bin dir that is not such a link is never replaced.
 */

import { lstat, readdir, readlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { UpkeepError } from "../../errors.ts";
import { pointAt } from "../install/dirs.ts";
import { makeDir } from "../install/extract.ts";
import type { Layout } from "./layout.ts";

function linkTarget(l: Layout, binary: string): string {
  return join(l.current, "bin", binary);
}

/** Binaries a version folder ships (files in its bin/). */
export async function binariesOf(versionDir: string): Promise<string[]> {
  try {
    return (await readdir(join(versionDir, "bin"))).filter((n) => !n.startsWith(".")).sort();
  } catch {
    return [];
  }
}

/** Makes the bin-dir links for `binaries`; refuses (E_EXISTS) to replace anything that is not ours. */
export async function ensureLinks(l: Layout, binDir: string, binaries: readonly string[]): Promise<string[]> {
  makeDir(binDir, true); // 0755 whatever the umask
  const made: string[] = [];
  for (const b of binaries) {
    const path = join(binDir, b);
    const want = linkTarget(l, b);
    let existing: string | undefined;
    try {
      const st = await lstat(path);
      if (!st.isSymbolicLink())
        throw new UpkeepError(
          "E_EXISTS",
          `${path} exists and is not a link made by upkeep: not replacing it`,
          {
            hint: `move it away (it may be an older install of ${b}), then run the command again`,
          },
        );
      existing = await readlink(path);
    } catch (e) {
      if (e instanceof UpkeepError) throw e;
    }
    if (existing === want) continue;
    if (existing !== undefined && !existing.startsWith(l.installDir))
      throw new UpkeepError(
        "E_EXISTS",
        `${path} is a link to ${existing}, not into ${l.root}: not replacing it`,
        {
          hint: "remove it if it is stale, then run the command again",
        },
      );
    await pointAt(path, want);
    made.push(path);
  }
  return made;
}

/** Removes the bin-dir links that point into this namespace. */
export async function removeLinks(l: Layout, binDir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(binDir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const path = join(binDir, n);
    try {
      const target = await readlink(path);
      if (target === linkTarget(l, n)) {
        await unlink(path);
        removed.push(path);
      }
    } catch {
      // not a link
    }
  }
  return removed;
}
