/**
 * Fake product releases for tests and benchmarks: real, signed `.tar.gz` artifacts of a tiny POSIX sh
 * daemon, their `.sha256` and `.minisig`, and the signed release manifest, all as `upkeep release` writes
 * them (same library).
 *
 *     npx bun scripts/fake-release.ts --out DIR --product hello --versions 1.0.0,1.1.0,2.0.0:crash,1.2.0:unhealthy \
 *       --key KEYFILE [--os linux --arch amd64] [--edition ent] [--fips] [--size-mb N] [--floor V] [--serial N]
 *       [--expires 720h | --expired] [--critical V]... [--bad KIND] [--unsigned] [--no-unpacked-size]
 *
 * Version flags (after `:`, several joined with `+`):
 *   crash       `hello serve` exits 1 a second after starting
 *   unhealthy   stays up, but `hello health` exits 1
 *   badversion  `hello version` exits 1 (the smoke test fails)
 *   flat        no top folder: `hello` at the archive root (the installer moves it into bin/)
 *   teleport    one top folder without bin/: `hello/hello`, `hello/README` (Teleport's layout)
 *   binfile     a signed release the layout refuses (E_MALFORMED): `hello/bin` is the script itself, a file
 *   binlink     the same with `hello/bin -> sbin`, a symlink to `hello/sbin/hello`
 *   bad=KIND    a malicious archive (as --bad, for this version only)
 * Default layout: `hello/bin/hello`, `hello/README`.
 *
 * The daemon `bin/hello`:
 *   hello version            prints `hello vX.Y.Z`, exits 0
 *   hello health             exits 0 (1 for `unhealthy`)
 *   hello [serve --port P]   runs until SIGTERM/SIGINT; if HELLO_STATE is set, writes
 *                            {"version":"X.Y.Z","pid":N,"port":"P"} there (atomically) at start
 *   hello signals            counts SIGINTs (`hello: SIGINT N`), exits 0 at the third or on SIGTERM
 *
 * --bad KIND writes a malicious archive (still signed and listed, so only the extractor stops it):
 *   abs-path        an entry named /tmp/upkeep-evil-<rand>
 *   dotdot          an entry hello/../../upkeep-evil
 *   symlink-out     hello/escape -> ../../.. then hello/escape/upkeep-evil through it
 *   hardlink-out    a hardlink hello/bin/passwd -> ../../etc/passwd
 *   device          a character device hello/dev/null (1,3)
 *   setuid          hello/bin/hello with mode 04755
 *   too-many-files  10,001 empty files
 *   gzip-bomb       one 5 GiB file of zeros in a ~5 MiB artifact (repeated gzip members)
 * --size-mb N pads each archive with N MiB of random (incompressible) data in hello/share/pad.bin.
 * The manifest gives each artifact's unpacked_size, as `upkeep release manifest` does (not for a gzip bomb;
 * --no-unpacked-size leaves it out everywhere, as older manifests do).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../core/duration.ts";
import { formatMarker } from "../core/install/layout.ts";
import { hashFile } from "../core/sys/hash.ts";
import { loadSecretKey } from "../core/sys/keys.ts";
import { writeGzip } from "../core/sys/release/gzip.ts";
import { signFile } from "../core/sys/signing.ts";
import { type Edition, formatArtifactName } from "../core/trust/artifact_name.ts";
import { buildManifest } from "../core/trust/build_manifest.ts";
import { formatChecksumFile } from "../core/trust/checksum_file.ts";
import { encodeUtf8 } from "../core/trust/encoding.ts";
import { manifestFileName, serializeManifest } from "../core/trust/manifest.ts";
import { type SecretKey, signBytes } from "../core/trust/minisign.ts";
import {
  BAD_KINDS,
  type BadKind,
  parseVersionSpec,
  releaseEntries,
  unpackedBytes,
  type VersionSpec,
  writeGzipBomb,
} from "./fake_archive.ts";

export { tarHeader } from "../core/release/tar_write.ts";
export {
  BAD_KINDS,
  type BadKind,
  type Behaviour,
  helloScript,
  type Layout,
  parseVersionSpec,
  type VersionSpec,
} from "./fake_archive.ts";

/**
 * The completion marker of a version folder made by hand (the installer writes it last): with it the folder
 * is a complete version, to the agent and to the client tools alike.
 */
export function fakeMarker(version: string): string {
  return formatMarker({
    version,
    artifact: `hello-v${version}-linux-amd64-bin.tar.gz`,
    sha256: "0".repeat(64),
    installed_at: "2026-01-01T00:00:00.000Z",
  });
}

export interface FakeReleaseOptions {
  out: string;
  product?: string;
  versions: (string | VersionSpec)[];
  /** A secret key file (unencrypted, or encrypted with UPKEEP_KEY_PASSWORD) or a loaded key. */
  key: string | SecretKey;
  os?: string;
  arch?: string;
  edition?: Edition;
  fips?: boolean;
  sizeMb?: number;
  floor?: string;
  serial?: number;
  critical?: string[];
  /** Manifest validity from now (ms; default 30 days). */
  expiresInMs?: number;
  /** Write a manifest that has already expired. */
  expired?: boolean;
  /** Every version's archive malicious in this way. */
  bad?: BadKind;
  /** Do not write artifact `.minisig` files. */
  unsigned?: boolean;
  /** Leave `unpacked_size` out of the manifest (as manifests before it did). */
  noUnpackedSize?: boolean;
  now?: Date;
}

export interface FakeArtifact {
  version: string;
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** What the artifact decompresses to (undefined for a gzip bomb or with noUnpackedSize). */
  unpackedSize?: number;
}

export interface FakeRelease {
  dir: string;
  manifestPath: string;
  serial: number;
  artifacts: FakeArtifact[];
}

const OS_NAMES: Record<string, string> = { linux: "linux", darwin: "darwin" };
const ARCH_NAMES: Record<string, string> = { x64: "amd64", arm64: "arm64" };

function platformDefaults(): { os: string; arch: string } {
  return { os: OS_NAMES[process.platform] ?? "linux", arch: ARCH_NAMES[process.arch] ?? "amd64" };
}

/** Builds, signs and lists the releases; returns what was written. */
export async function makeFakeRelease(o: FakeReleaseOptions): Promise<FakeRelease> {
  const product = o.product ?? "hello";
  const { os, arch } = {
    ...platformDefaults(),
    ...(o.os ? { os: o.os } : {}),
    ...(o.arch ? { arch: o.arch } : {}),
  };
  const edition = o.edition ?? "oss";
  const fips = o.fips ?? false;
  const sk = typeof o.key === "string" ? await loadSecretKey(o.key) : o.key;
  const now = o.now ?? new Date();
  mkdirSync(o.out, { recursive: true });
  const artifacts: FakeArtifact[] = [];
  for (const v of o.versions) {
    const spec = typeof v === "string" ? parseVersionSpec(v) : v;
    const bad = spec.bad ?? o.bad;
    const name = formatArtifactName({ product, edition, version: spec.version, os, arch, fips });
    const path = join(o.out, name);
    if (bad === "gzip-bomb") await writeGzipBomb(path, product, spec);
    else {
      // Random padding does not compress: stored blocks, as gzip -6 would end up writing, only faster.
      const level = (o.sizeMb ?? 0) > 0 ? 0 : 6;
      await writeGzip(path, releaseEntries(product, spec, bad, o.sizeMb ?? 0), { level });
    }
    const { size, sha256 = "" } = await hashFile(path, ["sha256"]);
    writeFileSync(`${path}.sha256`, formatChecksumFile(sha256, name));
    if (!o.unsigned) writeFileSync(`${path}.minisig`, await signFile(path, sk, { now }));
    const unpackedSize = o.noUnpackedSize || bad === "gzip-bomb" ? undefined : await unpackedBytes(path);
    artifacts.push({
      version: spec.version,
      name,
      path,
      size,
      sha256,
      ...(unpackedSize === undefined ? {} : { unpackedSize }),
    });
  }
  const issued = o.expired ? new Date(now.getTime() - 2 * 86_400_000) : now;
  const expires = o.expired
    ? new Date(now.getTime() - 86_400_000)
    : new Date(now.getTime() + (o.expiresInMs ?? 30 * 86_400_000));
  const serial = o.serial ?? Math.floor(now.getTime() / 1000);
  const manifest = buildManifest({
    product,
    serial,
    issued,
    expires,
    ...(o.floor === undefined ? {} : { floor: o.floor }),
    critical: o.critical ?? [],
    artifacts: artifacts.map((a) => ({
      name: a.name,
      size: a.size,
      sha256: a.sha256,
      ...(a.unpackedSize === undefined ? {} : { unpacked_size: a.unpackedSize }),
    })),
  });
  const mname = manifestFileName(product);
  const manifestPath = join(o.out, mname);
  const bytes = encodeUtf8(serializeManifest(manifest));
  writeFileSync(manifestPath, bytes);
  writeFileSync(`${manifestPath}.minisig`, await signBytes(sk, bytes, mname, issued.getTime() / 1000));
  return { dir: o.out, manifestPath, serial, artifacts };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      product: { type: "string", default: "hello" },
      versions: { type: "string" },
      key: { type: "string" },
      os: { type: "string" },
      arch: { type: "string" },
      edition: { type: "string", default: "oss" },
      fips: { type: "boolean", default: false },
      "size-mb": { type: "string", default: "0" },
      floor: { type: "string" },
      serial: { type: "string" },
      expires: { type: "string" },
      expired: { type: "boolean", default: false },
      critical: { type: "string", multiple: true },
      bad: { type: "string" },
      unsigned: { type: "boolean", default: false },
      "no-unpacked-size": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  if (!values.out || !values.versions || !values.key) {
    console.error(
      "usage: fake-release.ts --out DIR --versions 1.0.0,1.1.0[:crash|:unhealthy|...] --key KEYFILE [...]",
    );
    process.exit(2);
  }
  if (values.bad !== undefined && !(BAD_KINDS as readonly string[]).includes(values.bad)) {
    console.error(`--bad: one of ${BAD_KINDS.join(", ")}`);
    process.exit(2);
  }
  if (values.edition !== "oss" && values.edition !== "ent") {
    console.error("--edition: oss or ent");
    process.exit(2);
  }
  const r = await makeFakeRelease({
    out: values.out,
    product: values.product,
    versions: values.versions.split(",").filter((v) => v !== ""),
    key: values.key,
    ...(values.os ? { os: values.os } : {}),
    ...(values.arch ? { arch: values.arch } : {}),
    edition: values.edition,
    fips: values.fips,
    sizeMb: Number(values["size-mb"]),
    ...(values.floor ? { floor: values.floor } : {}),
    ...(values.serial ? { serial: Number(values.serial) } : {}),
    ...(values.expires ? { expiresInMs: parseDuration(values.expires) } : {}),
    expired: values.expired,
    critical: values.critical ?? [],
    ...(values.bad ? { bad: values.bad as BadKind } : {}),
    unsigned: values.unsigned,
    noUnpackedSize: values["no-unpacked-size"],
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    for (const a of r.artifacts) console.log(`${basename(a.path)}  ${a.size} bytes  sha256 ${a.sha256}`);
    console.log(`${r.manifestPath} (serial ${r.serial})`);
  }
}

if (import.meta.main) {
  main().catch((e) => {
    console.error(`fake-release: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
