/**
 * The signed release manifest, `{product}-releases.json` (DESIGN §5): which versions exist, their
 * artifacts (size, sha256), the floor version, a serial that never goes down and an expiry. Pure.
 *
 * Hosts verify its `.minisig` first (`verifyManifest` in ./verify_release.ts), then decide with
 * `checkFreshness` (E_EXPIRED, E_ROLLBACK) and `findArtifact` / `findRelease` (E_NOT_IN_MANIFEST,
 * E_BELOW_FLOOR). Parsing is strict: unknown fields, non-canonical versions, names that do not follow the
 * artifact template or disagree with their fields are E_MALFORMED. An artifact's `unpacked_size` is optional
 * (manifests without it verify; an upkeep older than the field refuses a manifest that has it). The release
 * side builds one with ./build_manifest.ts.
 */
import { type ListedPatch, patchFileName } from "../delta/patch.ts";
import { UpkeepError } from "../errors.ts";
import { fieldPath, isRecord, unknownKeys } from "../validate/mod.ts";
import { compareVersions, formatVersion, parseVersion, tryParseVersion } from "../version/mod.ts";
import { type Edition, isValidProduct, tryParseArtifactName } from "./artifact_name.ts";

export const MANIFEST_SCHEMA = 1;
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
const MAX_RELEASES = 10_000;
const MAX_ARTIFACTS_PER_RELEASE = 256;
const MAX_PATCHES_PER_ARTIFACT = 64;

export interface ManifestArtifact {
  name: string;
  os: string;
  arch: string;
  edition: Edition;
  fips: boolean;
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /**
   * Bytes the artifact decompresses to (the whole gzip stream: the tar with its padding). Optional: manifests
   * written before it existed still verify. Hosts check free space against it and refuse an archive that
   * decompresses to more.
   */
  unpacked_size?: number;
  /**
   * Patches that rebuild this artifact from an older version's (delta downloads, core/delta/patch.ts).
   * Optional, like unpacked_size: an upkeep older than the field refuses a manifest that has it.
   */
  patches?: ListedPatch[];
}

export interface ManifestRelease {
  version: string;
  /** Present (true) only for releases marked critical. */
  critical?: true;
  artifacts: ManifestArtifact[];
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  product: string;
  serial: number;
  /** RFC 3339, UTC. */
  issued: string;
  expires: string;
  /** Lowest installable version, or null. */
  floor: string | null;
  /** Newest first. */
  releases: ManifestRelease[];
}

export function manifestFileName(product: string): string {
  return `${product}-releases.json`;
}

export const SHA256 = /^[0-9a-f]{64}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function malformed(path: string, message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", `manifest: ${path}: ${message}`);
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string, keys: { required: string[]; optional?: string[] }): Json {
  if (!isRecord(value)) throw malformed(path, "expected an object");
  const [unknown] = unknownKeys(value, [...keys.required, ...(keys.optional ?? [])]);
  if (unknown !== undefined) throw malformed(path, `unknown field "${unknown}"`);
  for (const k of keys.required) if (!(k in value)) throw malformed(path, `missing field "${k}"`);
  return value;
}

function string(value: unknown, path: string, max = 256): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw malformed(path, `expected a non-empty string of at most ${max} characters`);
  }
  return value;
}

function count(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(path, "expected a non-negative integer");
  }
  return value;
}

function timestamp(value: unknown, path: string): string {
  const s = string(value, path, 64);
  if (!TIMESTAMP.test(s) || Number.isNaN(Date.parse(s)))
    throw malformed(path, "expected an RFC 3339 UTC time");
  return s;
}

function canonicalVersion(value: unknown, path: string): string {
  const s = string(value, path, 128);
  const v = tryParseVersion(s);
  if (!v || formatVersion(v) !== s) throw malformed(path, `"${s}" is not a canonical version (like 1.2.3)`);
  return s;
}

function parseArtifact(value: unknown, path: string, product: string, version: string): ManifestArtifact {
  const o = object(value, path, {
    required: ["name", "os", "arch", "edition", "fips", "size", "sha256"],
    optional: ["unpacked_size", "patches"],
  });
  const name = string(o.name, fieldPath(path, "name"));
  const parsed = tryParseArtifactName(product, name);
  if (!parsed)
    throw malformed(fieldPath(path, "name"), `"${name}" does not follow the artifact name template`);
  const a: ManifestArtifact = {
    name,
    os: string(o.os, fieldPath(path, "os"), 32),
    arch: string(o.arch, fieldPath(path, "arch"), 32),
    edition: o.edition as Edition,
    fips: o.fips as boolean,
    size: count(o.size, fieldPath(path, "size")),
    sha256: string(o.sha256, fieldPath(path, "sha256"), 64),
  };
  if ("unpacked_size" in o) a.unpacked_size = count(o.unpacked_size, fieldPath(path, "unpacked_size"));
  if ("patches" in o) a.patches = parsePatches(o.patches, fieldPath(path, "patches"), name, version);
  if (a.edition !== "oss" && a.edition !== "ent")
    throw malformed(fieldPath(path, "edition"), 'expected "oss" or "ent"');
  if (typeof a.fips !== "boolean") throw malformed(fieldPath(path, "fips"), "expected true or false");
  if (!SHA256.test(a.sha256)) throw malformed(fieldPath(path, "sha256"), "expected 64 lower-case hex digits");
  // Mix-and-match: the name is what hosts download, the fields are what they select on; both must agree.
  if (
    parsed.version !== version ||
    parsed.os !== a.os ||
    parsed.arch !== a.arch ||
    parsed.edition !== a.edition ||
    parsed.fips !== a.fips
  ) {
    throw malformed(path, `the fields disagree with the name "${name}" (version ${version})`);
  }
  return a;
}

/** An artifact's patches: each named `<artifact>.from-<version>.patch`, from an older version, once each. */
function parsePatches(value: unknown, path: string, artifact: string, version: string): ListedPatch[] {
  if (!Array.isArray(value) || value.length > MAX_PATCHES_PER_ARTIFACT)
    throw malformed(path, `expected an array of at most ${MAX_PATCHES_PER_ARTIFACT} patches`);
  const seen = new Set<string>();
  return value.map((p, i) => {
    const at = fieldPath(path, i);
    const o = object(p, at, { required: ["from", "name", "size", "sha256", "base_sha256"] });
    const from = canonicalVersion(o.from, fieldPath(at, "from"));
    if (compareVersions(parseVersion(from), parseVersion(version)) === 0)
      throw malformed(fieldPath(at, "from"), `a patch from ${from} to itself`);
    const name = string(o.name, fieldPath(at, "name"));
    if (name !== patchFileName(artifact, from))
      throw malformed(fieldPath(at, "name"), `expected "${patchFileName(artifact, from)}"`);
    if (seen.has(from)) throw malformed(fieldPath(at, "from"), `a second patch from ${from}`);
    seen.add(from);
    const sha256 = string(o.sha256, fieldPath(at, "sha256"), 64);
    const base = string(o.base_sha256, fieldPath(at, "base_sha256"), 64);
    if (!SHA256.test(sha256)) throw malformed(fieldPath(at, "sha256"), "expected 64 lower-case hex digits");
    if (!SHA256.test(base))
      throw malformed(fieldPath(at, "base_sha256"), "expected 64 lower-case hex digits");
    return { from, name, size: count(o.size, fieldPath(at, "size")), sha256, base_sha256: base };
  });
}

/**
 * Parses and validates manifest JSON. With `product`, also refuses a manifest for another product.
 * Every problem is an E_MALFORMED naming the field.
 */
export function parseManifest(text: string, opts: { product?: string } = {}): Manifest {
  if (typeof text !== "string" || text.length > MAX_MANIFEST_BYTES) {
    throw new UpkeepError("E_MALFORMED", `manifest: larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UpkeepError("E_MALFORMED", "manifest: not valid JSON");
  }
  const o = object(json, "$", {
    required: ["schema", "product", "serial", "issued", "expires", "floor", "releases"],
  });
  if (o.schema !== MANIFEST_SCHEMA)
    throw malformed("schema", `unsupported schema (this upkeep reads ${MANIFEST_SCHEMA})`);
  const product = string(o.product, "product", 64);
  if (!isValidProduct(product)) throw malformed("product", `invalid product name "${product}"`);
  if (opts.product !== undefined && product !== opts.product) {
    throw malformed("product", `the manifest is for "${product}", not "${opts.product}"`);
  }
  const serial = count(o.serial, "serial");
  const issued = timestamp(o.issued, "issued");
  const expires = timestamp(o.expires, "expires");
  if (Date.parse(expires) <= Date.parse(issued)) throw malformed("expires", "must be after issued");
  const floor = o.floor === null ? null : canonicalVersion(o.floor, "floor");
  if (!Array.isArray(o.releases)) throw malformed("releases", "expected an array");
  if (o.releases.length > MAX_RELEASES) throw malformed("releases", `more than ${MAX_RELEASES} releases`);
  const names = new Set<string>();
  const releases: ManifestRelease[] = o.releases.map((r, i) => {
    const path = fieldPath("releases", i);
    const ro = object(r, path, { required: ["version", "artifacts"], optional: ["critical"] });
    const version = canonicalVersion(ro.version, fieldPath(path, "version"));
    if ("critical" in ro && ro.critical !== true)
      throw malformed(fieldPath(path, "critical"), "expected true or absent");
    if (!Array.isArray(ro.artifacts) || ro.artifacts.length === 0) {
      throw malformed(fieldPath(path, "artifacts"), "expected a non-empty array");
    }
    if (ro.artifacts.length > MAX_ARTIFACTS_PER_RELEASE) {
      throw malformed(fieldPath(path, "artifacts"), `more than ${MAX_ARTIFACTS_PER_RELEASE} artifacts`);
    }
    const artifacts = ro.artifacts.map((a, j) => {
      const at = fieldPath(fieldPath(path, "artifacts"), j);
      const art = parseArtifact(a, at, product, version);
      if (names.has(art.name)) throw malformed(fieldPath(at, "name"), `"${art.name}" is listed twice`);
      names.add(art.name);
      return art;
    });
    return ro.critical === true ? { version, critical: true, artifacts } : { version, artifacts };
  });
  const sorted = releases.map((r) => parseVersion(r.version)).sort(compareVersions);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (a && b && compareVersions(a, b) === 0) {
      throw malformed("releases", `version ${formatVersion(b)} is listed twice (build metadata aside)`);
    }
  }
  return { schema: MANIFEST_SCHEMA, product, serial, issued, expires, floor, releases };
}

/** The manifest as written to disk: 2-space JSON, fields in a fixed order, newline-terminated. */
export function serializeManifest(m: Manifest): string {
  const ordered: Manifest = {
    schema: m.schema,
    product: m.product,
    serial: m.serial,
    issued: m.issued,
    expires: m.expires,
    floor: m.floor,
    releases: m.releases.map((r) => ({
      version: r.version,
      ...(r.critical ? { critical: true as const } : {}),
      artifacts: r.artifacts.map((a) => ({
        name: a.name,
        os: a.os,
        arch: a.arch,
        edition: a.edition,
        fips: a.fips,
        size: a.size,
        sha256: a.sha256,
        ...(a.unpacked_size === undefined ? {} : { unpacked_size: a.unpacked_size }),
        ...(a.patches === undefined
          ? {}
          : {
              patches: a.patches.map((p) => ({
                from: p.from,
                name: p.name,
                size: p.size,
                sha256: p.sha256,
                base_sha256: p.base_sha256,
              })),
            }),
      })),
    })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

// --- decisions ---------------------------------------------------------------------------------------

export interface FreshnessInput {
  now: Date;
  /** The highest serial this host has accepted before; undefined on first contact. */
  lastSerial?: number;
}

/** E_EXPIRED when `now` is at or past `expires` (freeze); E_ROLLBACK when the serial went down. */
export function checkFreshness(m: Manifest, input: FreshnessInput): void {
  const expires = Date.parse(m.expires);
  if (input.now.getTime() >= expires) {
    throw new UpkeepError("E_EXPIRED", `the ${m.product} release manifest expired at ${m.expires}`, {
      hint: "the release engineer must publish a fresh manifest (upkeep release manifest)",
    });
  }
  if (input.lastSerial !== undefined && m.serial < input.lastSerial) {
    throw new UpkeepError(
      "E_ROLLBACK",
      `the ${m.product} release manifest has serial ${m.serial}, lower than ${input.lastSerial} seen before`,
    );
  }
}

/** E_BELOW_FLOOR when `version` is lower than the manifest's floor. */
export function checkFloor(m: Manifest, version: string): void {
  if (m.floor === null) return;
  if (compareVersions(parseVersion(version), parseVersion(m.floor)) < 0) {
    throw new UpkeepError(
      "E_BELOW_FLOOR",
      `version ${version} is below the floor ${m.floor} of the release manifest`,
    );
  }
}

/** The release for `version` if listed and not below the floor (E_NOT_IN_MANIFEST, E_BELOW_FLOOR). */
export function findRelease(m: Manifest, version: string): ManifestRelease {
  const v = tryParseVersion(version);
  if (!v) throw new UpkeepError("E_MALFORMED", `invalid version "${version}"`);
  const canonical = formatVersion(v);
  const release = m.releases.find((r) => r.version === canonical);
  if (!release) {
    throw new UpkeepError(
      "E_NOT_IN_MANIFEST",
      `version ${canonical} is not in the ${m.product} release manifest`,
    );
  }
  checkFloor(m, canonical);
  return release;
}

/**
 * The manifest entry of an artifact file name: E_MALFORMED if the name does not follow the template,
 * E_NOT_IN_MANIFEST if not listed, E_BELOW_FLOOR if its version is below the floor.
 */
export function findArtifact(
  m: Manifest,
  name: string,
): { release: ManifestRelease; artifact: ManifestArtifact } {
  const parsed = tryParseArtifactName(m.product, name);
  if (!parsed) {
    throw new UpkeepError("E_MALFORMED", `"${name}" is not an artifact name of ${m.product}`);
  }
  const release = m.releases.find((r) => r.version === parsed.version);
  const artifact = release?.artifacts.find((a) => a.name === name);
  if (!release || !artifact) {
    throw new UpkeepError("E_NOT_IN_MANIFEST", `${name} is not in the ${m.product} release manifest`);
  }
  checkFloor(m, release.version);
  return { release, artifact };
}

/** Releases a host may install: those not below the floor, newest first. */
export function installableReleases(m: Manifest): ManifestRelease[] {
  if (m.floor === null) return [...m.releases];
  const floor = parseVersion(m.floor);
  return m.releases.filter((r) => compareVersions(parseVersion(r.version), floor) >= 0);
}
