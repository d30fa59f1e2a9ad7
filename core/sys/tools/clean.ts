/** `upkeep tools clean`: every installed client-tools version removed; the login kept. */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { removeVersionDir } from "../install/remove_version.ts";
import { acquireLock } from "../lock.ts";
import type { ExecIo } from "./exec_tool.ts";
import { toolsDir } from "./paths.ts";

type Env = Record<string, string | undefined>;

/**
 * Removes every installed version and any partial download; keeps the login. Under the install lock (no
 * install renames a version into place meanwhile); each version folder is renamed aside before it is
 * deleted, so a shim starting now runs the whole version or finds none.
 */
export async function clean(env: Env, io: Pick<ExecIo, "warn">): Promise<string[]> {
  const dir = toolsDir(env);
  const removed: string[] = [];
  try {
    readdirSync(dir);
  } catch {
    return removed;
  }
  const lock = await acquireLock(`${dir}/.install.lock`, {
    waitMs: 15 * 60_000,
    what: "upkeep tools clean",
    onWait: (holder) => io.warn(`upkeep: waiting for an install in progress (${holder})`),
  });
  try {
    for (const name of readdirSync(dir)) {
      if (tryParseVersion(name) && !name.startsWith(".")) {
        if (removeVersionDir(dir, name)) removed.push(name);
      } else if (name.startsWith(".tmp-") || name.startsWith(".download-")) {
        rmSync(join(dir, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
  } finally {
    lock.release();
  }
  return removed;
}
