/**
 * The shared install machinery (DESIGN §5-§7): what `upkeep agent` and `upkeep tools` both use to put a
 * release version on disk. Pure decisions live in core/install/ (tar reading, entry policy, layout, URLs);
 * this is their I/O half.
 *
 * ```ts
 * const source = { baseUrl, product: "hello", trustedKeys: await loadTrustedKeys([pubFile]) };
 * const manifest = await fetchVerifiedManifest(source, { now: new Date(), lastSerial, workDir: nsDir });
 * saveLastSerial(manifest.serial);
 * const { dir } = await installVersion({ source, manifest, version: "1.1.0", platform: currentPlatform(),
 *   versionsDir: join(nsDir, "versions") });
 * const { revert } = await switchSymlink(join(nsDir, "current"), dir);
 * cleanVersionsDir(join(nsDir, "versions"), [activeName, backupName]);
 * ```
 */
import { UpkeepError } from "../../errors.ts";
import type { Platform } from "../../install/layout.ts";

export type { ExtractLimits } from "../../install/extract_policy.ts";
export { DEFAULT_EXTRACT_LIMITS } from "../../install/extract_policy.ts";
export type { Marker, Platform } from "../../install/layout.ts";
export { MARKER_FILE, parseVersionDirName, versionDirName } from "../../install/layout.ts";
export { checkUrl, isLoopbackHost, joinUrl } from "../../install/url.ts";
export { DELTA_STEPS, type DeltaStep, type DownloadFacts, KEPT_ARTIFACT } from "./delta.ts";
export {
  cleanSymlinkLeftovers,
  cleanVersionsDir,
  isCompleteVersionDir,
  listInstalledVersions,
  readMarker,
  sweepLeftovers,
  switchSymlink,
} from "./dirs.ts";
export { extractTarGz } from "./extract.ts";
export {
  INSTALL_STEPS,
  type InstallOptions,
  type InstallResult,
  type InstallStep,
  installVersion,
  SPACE_MARGIN,
  UNPACKED_FACTOR,
} from "./install.ts";
export { fetchVerifiedManifest, type InstallSource, type VerifiedManifest } from "./manifest.ts";

const OS: Record<string, string> = { linux: "linux", darwin: "darwin" };
const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64" };

/** This machine as the artifact template names it (linux/darwin, amd64/arm64). */
export function currentPlatform(edition: "oss" | "ent" = "oss", fips = false): Platform {
  const os = OS[process.platform];
  const arch = ARCH[process.arch];
  if (!os || !arch) {
    throw new UpkeepError("E_INCOMPATIBLE", `no releases are built for ${process.platform}/${process.arch}`);
  }
  return { os, arch, edition, fips };
}
