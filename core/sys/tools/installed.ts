/**
 * Installed client-tools versions: `<tools-dir>/<version>/` folders holding a well-formed completion marker
 * (the agent's rule: core/install/layout.ts's parseMarker). Bun-native file APIs only (no `node:fs`): this is
 * on the shim's hot path.
 */
import { MARKER_FILE, MAX_MARKER_BYTES, parseMarker } from "../../install/layout.ts";
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { LAST_USED } from "./paths.ts";
import { readTextSync } from "./read_text_sync.ts";

export interface InstalledTools {
  version: string;
  dir: string;
  /** Last use (ms): when it was last run, else when it was installed. */
  lastUsed: number;
}

/** True when `<dir>/<version>` is a complete install. */
export function isInstalled(dir: string, version: string): boolean {
  return isComplete(`${dir}/${version}`);
}

/** The folder holds a well-formed completion marker (a torn or foreign file is none). */
function isComplete(vdir: string): boolean {
  const path = `${vdir}/${MARKER_FILE}`;
  const size = Bun.file(path).size;
  if (!(size > 0 && size <= MAX_MARKER_BYTES)) return false;
  try {
    const text = readTextSync(path);
    return text !== undefined && parseMarker(text) !== undefined;
  } catch {
    return false;
  }
}

export function listInstalledTools(dir: string): InstalledTools[] {
  const out: InstalledTools[] = [];
  let found: string[];
  try {
    found = [...new Bun.Glob(`*/${MARKER_FILE}`).scanSync({ cwd: dir, dot: true, onlyFiles: true })];
  } catch {
    return out;
  }
  for (const rel of found) {
    const version = rel.slice(0, rel.indexOf("/"));
    if (!tryParseVersion(version) || version.startsWith(".")) continue;
    const vdir = `${dir}/${version}`;
    const used = Bun.file(`${vdir}/${LAST_USED}`);
    if (!isComplete(vdir)) continue;
    const marker = Bun.file(`${vdir}/${MARKER_FILE}`);
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
