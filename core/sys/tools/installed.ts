/**
 * Installed client-tools versions: `<tools-dir>/<version>/` folders whose completion marker exists.
 * Bun-native file APIs only (no `node:fs`): this is on the shim's hot path.
 */
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { LAST_USED, MARKER } from "./paths.ts";

export interface InstalledTools {
  version: string;
  dir: string;
  /** Last use (ms): when it was last run, else when it was installed. */
  lastUsed: number;
}

/** True when `<dir>/<version>` is a complete install. */
export function isInstalled(dir: string, version: string): boolean {
  return Bun.file(`${dir}/${version}/${MARKER}`).size > 0;
}

export function listInstalledTools(dir: string): InstalledTools[] {
  const out: InstalledTools[] = [];
  let found: string[];
  try {
    found = [...new Bun.Glob(`*/${MARKER}`).scanSync({ cwd: dir, dot: true, onlyFiles: true })];
  } catch {
    return out;
  }
  for (const rel of found) {
    const version = rel.slice(0, rel.indexOf("/"));
    if (!tryParseVersion(version) || version.startsWith(".")) continue;
    const vdir = `${dir}/${version}`;
    const used = Bun.file(`${vdir}/${LAST_USED}`);
    const marker = Bun.file(`${vdir}/${MARKER}`);
    if (marker.size === 0) continue;
    out.push({
      version,
      dir: vdir,
      lastUsed: used.size >= 0 && used.lastModified > 0 ? used.lastModified : marker.lastModified,
    });
  }
  return out;
}

/** Marks a version as used now (at most once a minute). Best effort: a read-only dir must not stop the tool. */
export async function touchTools(versionDir: string, now: Date): Promise<void> {
  const f = Bun.file(`${versionDir}/${LAST_USED}`);
  if (f.size > 0 && now.getTime() - f.lastModified < 60_000) return;
  try {
    await Bun.write(f, String(now.getTime()));
  } catch {}
}
