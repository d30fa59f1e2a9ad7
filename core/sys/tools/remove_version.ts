/**
 * Removes an installed client-tools version atomically for its readers: the folder is first renamed to
 * `<dir>/.tmp-remove-<random>` (a dot name, never listed as a version), then deleted. A shim sees the whole
 * version or none of it, never a completion marker with `lib/` or `bin/` half gone. Callers hold the
 * install lock, so no install is renaming a folder into place meanwhile.
 */
import { randomBytes } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";

/** Answers false when there was nothing to remove. */
export function removeVersionDir(dir: string, name: string): boolean {
  const aside = `${dir}/.tmp-remove-${randomBytes(6).toString("hex")}`;
  try {
    renameSync(`${dir}/${name}`, aside);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") return false;
    throw new UpkeepError("E_IO", `cannot remove ${dir}/${name}: ${code ?? String(e)}`, { cause: e });
  }
  rmSync(aside, { recursive: true, force: true });
  return true;
}
