/**
 * Removal of one version folder the agent skipped (a release rolled back or refused by its smoke test), so
 * a host that keeps failing does not pile up one artifact per failure. Crash-safe like the installer: the
 * folder is first renamed to a `.tmp-*` name (never taken for a version; cleanVersionsDir removes such
 * leftovers), then deleted.
 */
import { randomBytes } from "node:crypto";
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TMP_PREFIX } from "../../install/layout.ts";
import { fsyncDir } from "../install/extract.ts";

/** Removes `versions/<name>`; true when it was there. Throws on an I/O error (the caller logs it). */
export function removeVersionDir(versionsDir: string, name: string): boolean {
  const dir = join(versionsDir, name);
  if (name === "" || name.startsWith(".") || name.includes("/") || !existsSync(dir)) return false;
  const aside = join(versionsDir, `${TMP_PREFIX}removed-${name}-${randomBytes(6).toString("hex")}`);
  renameSync(dir, aside);
  fsyncDir(versionsDir);
  rmSync(aside, { recursive: true, force: true });
  return true;
}
