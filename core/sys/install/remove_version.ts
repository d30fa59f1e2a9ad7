/**
 * Removes one version folder so that its readers see the whole version or none of it (shared by the agent,
 * for skipped releases, and the client tools, for LRU cleanup and `tools clean`). The folder is first
 * renamed to a `.tmp-*` name beside it (never taken for a version; leftovers are swept like the
 * installer's), the parent is synced, then the folder is deleted: a crash at any point leaves either the
 * version or a `.tmp-*` folder, never a completion marker with files gone.
 */
import { randomBytes } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TMP_PREFIX } from "../../install/layout.ts";
import { errorCodeOf, ioError } from "../io_error.ts";
import { fsyncDir } from "./extract.ts";

/** Removes `<parent>/<name>`; false when there was nothing to remove. E_IO when it cannot be moved aside. */
export function removeVersionDir(parent: string, name: string): boolean {
  if (name === "" || name.startsWith(".") || name.includes("/")) return false;
  const aside = join(parent, `${TMP_PREFIX}removed-${name}-${randomBytes(6).toString("hex")}`);
  try {
    renameSync(join(parent, name), aside);
  } catch (e) {
    if (errorCodeOf(e) === "ENOENT") return false;
    throw ioError("remove", join(parent, name), e);
  }
  fsyncDir(parent);
  rmSync(aside, { recursive: true, force: true });
  return true;
}
