/**
 * Artifact file names (DESIGN §5): `{product}[-{edition}]-v{version}-{os}-{arch}[-fips]-bin.tar.gz`.
 * The edition appears only for "ent" (oss is omitted); `-fips` marks FIPS builds. Pure.
 *
 * upkeep's own releases (product `upkeep`, DESIGN §9) are bare executables, `upkeep-v{version}-{os}-{arch}`
 * (no archive suffix, no edition, no FIPS): `formatSelfArtifactName`; `tryParseArtifactName("upkeep", ...)`
 * reads both forms, so the manifest of upkeep's releases is a product manifest like any other.
 *
 * A name is parsed against a known product (product names may contain `-`), from the right: os and arch
 * are single `[a-z0-9_]` words, so a version's pre-release part may contain `-` and still round-trips.
 */
import { UpkeepError } from "../errors.ts";
import { formatVersion, tryParseVersion } from "../version/mod.ts";

export type Edition = "oss" | "ent";

export interface ArtifactName {
  product: string;
  edition: Edition;
  /** Canonical version, without the `v`. */
  version: string;
  os: string;
  arch: string;
  fips: boolean;
}

export const ARTIFACT_SUFFIX = "-bin.tar.gz";
/** Longest artifact name accepted. */
export const MAX_ARTIFACT_NAME = 255;

const PRODUCT = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const WORD = /^[a-z0-9_]{1,32}$/;

export function isValidProduct(product: string): boolean {
  return PRODUCT.test(product);
}

const STORED_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * A name the server keeps a file under (an artifact, its `.sha256` and `.minisig`, a manifest, a public key):
 * one path segment of letters, digits and `._+-`, not hidden, no `..`, at most MAX_ARTIFACT_NAME characters.
 */
export function isStoredName(name: string): boolean {
  return name.length <= MAX_ARTIFACT_NAME && STORED_NAME.test(name) && !name.includes("..");
}

function bad(message: string): UpkeepError {
  return new UpkeepError("E_MALFORMED", message);
}

/** Builds the file name; throws E_MALFORMED on a field that could not round-trip. */
export function formatArtifactName(a: ArtifactName): string {
  if (!isValidProduct(a.product)) throw bad(`invalid product name "${a.product}"`);
  if (a.edition !== "oss" && a.edition !== "ent") throw bad(`invalid edition "${String(a.edition)}"`);
  if (!WORD.test(a.os) || a.os === "fips") throw bad(`invalid os "${a.os}"`);
  if (!WORD.test(a.arch) || a.arch === "fips") throw bad(`invalid arch "${a.arch}"`);
  const v = tryParseVersion(a.version);
  if (!v) throw bad(`invalid version "${a.version}"`);
  const edition = a.edition === "ent" ? "-ent" : "";
  const name = `${a.product}${edition}-v${formatVersion(v)}-${a.os}-${a.arch}${a.fips ? "-fips" : ""}${ARTIFACT_SUFFIX}`;
  if (name.length > MAX_ARTIFACT_NAME) throw bad("artifact name too long");
  return name;
}

/** The product name of upkeep's own releases (the self-update: `upkeep-releases.json`). */
export const SELF_PRODUCT = "upkeep";

/** upkeep's own executable for a platform: `upkeep-v{version}-{os}-{arch}` (E_MALFORMED on a bad field). */
export function formatSelfArtifactName(version: string, os: string, arch: string): string {
  const name = formatArtifactName({ product: SELF_PRODUCT, edition: "oss", fips: false, version, os, arch });
  return name.slice(0, name.length - ARTIFACT_SUFFIX.length);
}

/** Whether `name` is a bare executable of upkeep's own (no archive suffix). */
export function isSelfExecutableName(name: string): boolean {
  const a = tryParseArtifactName(SELF_PRODUCT, name);
  return a !== undefined && !name.endsWith(ARTIFACT_SUFFIX);
}

/** Parses `name` as an artifact of `product`; undefined when it does not follow the template. */
export function tryParseArtifactName(product: string, name: string): ArtifactName | undefined {
  if (typeof name !== "string" || name.length > MAX_ARTIFACT_NAME || !isValidProduct(product))
    return undefined;
  if (!name.startsWith(`${product}-`)) return undefined;
  // upkeep's own executables carry no archive suffix (and are never ent or FIPS builds).
  const bare = product === SELF_PRODUCT && !name.endsWith(ARTIFACT_SUFFIX);
  if (!bare && !name.endsWith(ARTIFACT_SUFFIX)) return undefined;
  let rest = name.slice(product.length + 1, name.length - (bare ? 0 : ARTIFACT_SUFFIX.length));
  if (bare && (rest.startsWith("ent-") || rest.endsWith("-fips"))) return undefined;
  let edition: Edition = "oss";
  if (rest.startsWith("ent-")) {
    edition = "ent";
    rest = rest.slice(4);
  }
  if (!rest.startsWith("v")) return undefined;
  const parts = rest.slice(1).split("-");
  let fips = false;
  if (parts[parts.length - 1] === "fips") {
    fips = true;
    parts.pop();
  }
  const arch = parts.pop();
  const os = parts.pop();
  if (arch === undefined || os === undefined || !WORD.test(arch) || !WORD.test(os) || os === "fips")
    return undefined;
  const versionText = parts.join("-");
  const v = tryParseVersion(versionText);
  // Only the canonical spelling: one name per artifact.
  if (!v || formatVersion(v) !== versionText) return undefined;
  return { product, edition, version: versionText, os, arch, fips };
}
