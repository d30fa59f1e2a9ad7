/**
 * The installer's free-space rule (DESIGN §6): what is left to download, the unpacked files and a margin must
 * fit before anything is written.
 */
import { lstatSync, statfsSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";
import type { ManifestArtifact } from "../../trust/manifest.ts";

/** Free space asked for beyond the download and the unpacked files. */
export const SPACE_MARGIN = 64 * 1024 * 1024;

/**
 * Without the manifest's `unpacked_size`, the unpacked files are taken as this many times the artifact: gzip
 * packs executables 2-3x (Go and Rust binaries about 3x), so 4x covers the releases this installs, with room.
 * A release that packs tighter carries `unpacked_size` (`upkeep release manifest` writes it).
 */
export const UNPACKED_FACTOR = 4;

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return Number.POSITIVE_INFINITY; // no statfs here: let the writes tell
  }
}

/** Bytes a `.part` already holds (a download to resume), 0 when there is none. */
export function partBytes(part: string, max: number): number {
  try {
    const st = lstatSync(part);
    return st.isFile() && st.size <= max ? st.size : 0;
  } catch {
    return 0;
  }
}

/** Free space >= what is left to download + the unpacked files + SPACE_MARGIN, else E_NO_SPACE. */
export function checkSpace(
  versionsDir: string,
  t: { part: string; name: string; artifact: ManifestArtifact },
): void {
  const { artifact } = t;
  const toDownload = artifact.size - partBytes(t.part, artifact.size);
  const unpacked = artifact.unpacked_size ?? artifact.size * UNPACKED_FACTOR;
  const need = toDownload + unpacked + SPACE_MARGIN;
  const free = freeBytes(versionsDir);
  if (free >= need) return;
  const how =
    artifact.unpacked_size === undefined
      ? `${unpacked} unpacked (${UNPACKED_FACTOR} x its size: the manifest gives no unpacked_size)`
      : `${unpacked} unpacked (the manifest's unpacked_size)`;
  throw new UpkeepError(
    "E_NO_SPACE",
    `${versionsDir} has ${free} bytes free; installing ${t.name} needs ${need}: ${toDownload} to download, ${how} and a ${SPACE_MARGIN}-byte margin`,
  );
}
