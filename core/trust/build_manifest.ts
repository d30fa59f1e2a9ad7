/**
 * Building a release manifest from artifact files' facts (`upkeep release manifest`, scripts/fake-release.ts),
 * and the serial of a new one. Pure. Hosts only read manifests (./manifest.ts).
 */
import type { ListedPatch } from "../delta/patch.ts";
import { UsageError } from "../errors.ts";
import { compareVersions, formatVersion, parseVersion, tryParseVersion } from "../version/mod.ts";
import { type ArtifactName, isValidProduct, tryParseArtifactName } from "./artifact_name.ts";
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestRelease,
  parseManifest,
  SHA256,
  serializeManifest,
} from "./manifest.ts";

export interface BuildInput {
  product: string;
  serial: number;
  issued: Date;
  expires: Date;
  floor?: string;
  /** Versions to mark critical; each must be among the artifacts' versions. */
  critical?: readonly string[];
  /** `unpacked_size`: what the artifact decompresses to (left out of the manifest when not given). */
  artifacts: readonly {
    name: string;
    size: number;
    sha256: string;
    unpacked_size?: number;
    /** Patches to this artifact (`upkeep release delta`); checked when the manifest is read back. */
    patches?: ListedPatch[];
  }[];
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

type Fact = {
  name: string;
  parsed: ArtifactName;
  size: number;
  sha256: string;
  unpacked_size?: number;
  patches?: ListedPatch[];
};

/** Builds a manifest from artifact files' facts; bad input is a UsageError naming it. */
export function buildManifest(input: BuildInput): Manifest {
  checkBuildInput(input);
  const byVersion = factsByVersion(input);
  const critical = criticalVersions(input, byVersion);
  const floor = floorVersion(input, byVersion, critical);
  const versions = [...byVersion.keys()].sort((a, b) => compareVersions(parseVersion(b), parseVersion(a)));
  for (let i = 1; i < versions.length; i++) {
    const [a, b] = [versions[i - 1], versions[i]];
    if (a && b && compareVersions(parseVersion(a), parseVersion(b)) === 0) {
      throw new UsageError(`versions ${a} and ${b} differ only in build metadata`);
    }
  }
  const releases: ManifestRelease[] = versions.map((version) => {
    const artifacts = (byVersion.get(version) ?? [])
      .map(({ name, parsed, size, sha256, unpacked_size, patches }) => ({
        name,
        os: parsed.os,
        arch: parsed.arch,
        edition: parsed.edition,
        fips: parsed.fips,
        size,
        sha256,
        ...(unpacked_size === undefined ? {} : { unpacked_size }),
        ...(patches === undefined || patches.length === 0 ? {} : { patches }),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return critical.has(version) ? { version, critical: true, artifacts } : { version, artifacts };
  });
  const m: Manifest = {
    schema: MANIFEST_SCHEMA,
    product: input.product,
    serial: input.serial,
    issued: rfc3339(input.issued),
    expires: rfc3339(input.expires),
    floor,
    releases,
  };
  // What we write, we must read back.
  return parseManifest(serializeManifest(m), { product: input.product });
}

/** The product, serial, times and that there are artifacts at all. */
function checkBuildInput(input: BuildInput): void {
  if (!isValidProduct(input.product)) throw new UsageError(`invalid product name "${input.product}"`);
  if (!Number.isSafeInteger(input.serial) || input.serial < 0) {
    throw new UsageError(`invalid serial ${input.serial}: expected a non-negative integer`);
  }
  if (Number.isNaN(input.issued.getTime()) || Number.isNaN(input.expires.getTime())) {
    throw new UsageError("invalid issue or expiry time");
  }
  if (input.expires.getTime() <= input.issued.getTime())
    throw new UsageError("the expiry must be after the issue time");
  if (input.artifacts.length === 0) throw new UsageError("no artifacts: name at least one file");
}

/** Each artifact checked (name, size, sha256) and grouped by the version its name gives. */
function factsByVersion(input: BuildInput): Map<string, Fact[]> {
  const byVersion = new Map<string, Fact[]>();
  const seen = new Set<string>();
  for (const a of input.artifacts) {
    const parsed = tryParseArtifactName(input.product, a.name);
    if (!parsed) {
      throw new UsageError(
        `"${a.name}" is not an artifact of ${input.product}: expected ${input.product}[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz`,
      );
    }
    if (seen.has(a.name)) throw new UsageError(`"${a.name}" is named twice`);
    seen.add(a.name);
    if (!SHA256.test(a.sha256) || !Number.isSafeInteger(a.size) || a.size < 0) {
      throw new UsageError(`bad size or sha256 for "${a.name}"`);
    }
    if (a.unpacked_size !== undefined && (!Number.isSafeInteger(a.unpacked_size) || a.unpacked_size < 0)) {
      throw new UsageError(`bad unpacked size for "${a.name}"`);
    }
    const list = byVersion.get(parsed.version) ?? [];
    list.push({
      name: a.name,
      parsed,
      size: a.size,
      sha256: a.sha256,
      ...(a.unpacked_size === undefined ? {} : { unpacked_size: a.unpacked_size }),
      ...(a.patches === undefined ? {} : { patches: a.patches }),
    });
    byVersion.set(parsed.version, list);
  }
  return byVersion;
}

/** The critical versions, canonical; each must be the version of an artifact given. */
function criticalVersions(input: BuildInput, byVersion: Map<string, Fact[]>): Set<string> {
  const critical = new Set<string>();
  for (const c of input.critical ?? []) {
    const v = tryParseVersion(c);
    const canonical = v ? formatVersion(v) : undefined;
    if (!canonical || !byVersion.has(canonical)) {
      throw new UsageError(`--critical ${c}: not the version of any artifact given`);
    }
    critical.add(canonical);
  }
  return critical;
}

/** The floor, canonical: at or below some version given, and no critical version below it. */
function floorVersion(
  input: BuildInput,
  byVersion: Map<string, Fact[]>,
  critical: Set<string>,
): string | null {
  let floor: string | null = null;
  if (input.floor !== undefined) {
    const v = tryParseVersion(input.floor);
    if (!v) throw new UsageError(`invalid floor version "${input.floor}"`);
    floor = formatVersion(v);
    const fv = v;
    if (![...byVersion.keys()].some((k) => compareVersions(parseVersion(k), fv) >= 0)) {
      throw new UsageError(`the floor ${floor} is above every version given: nothing would be installable`);
    }
  }
  if (floor !== null) {
    const fv = parseVersion(floor);
    for (const c of critical)
      if (compareVersions(parseVersion(c), fv) < 0)
        throw new UsageError(`--critical ${c} is below the floor ${floor}: no host may install it`);
  }
  return floor;
}

/**
 * The serial of a new manifest: it only goes up, since hosts refuse one older than a manifest they have seen
 * (E_ROLLBACK). Default: the current Unix time, or one above `previous` (the manifest it replaces) when that
 * is higher. A `requested` serial (`--serial`) must be a non-negative integer above `previous`.
 *
 * @throws {UsageError} naming what is wrong.
 */
export function nextSerial(
  now: Date,
  previous: number | undefined,
  requested: string | undefined,
  where = "",
): number {
  const fallback = Math.max(Math.floor(now.getTime() / 1000), previous === undefined ? 0 : previous + 1);
  if (requested === undefined) return fallback;
  if (!/^\d{1,15}$/.test(requested))
    throw new UsageError(`--serial ${requested}: expected a non-negative integer`);
  const serial = Number(requested);
  if (previous !== undefined && serial <= previous)
    throw new UsageError(
      `--serial ${serial}: not above the serial ${previous} of the manifest already${where ? ` in ${where}` : ""}`,
      { hint: "hosts that saw it would refuse this one (rollback protection); leave --serial out" },
    );
  return serial;
}
