/**
 * `upkeep release`: the release engineer's offline tools (DESIGN §5), minisign-compatible.
 *
 *     upkeep release pack --product NAME --version V [--os OS --arch ARCH] [--edition ent] [--fips] [--out DIR]
 *                         [--force] [--json] FOLDER                    # DIR/NAME-vV-OS-ARCH-bin.tar.gz
 *     upkeep release keygen --out-dir DIR [--product NAME] [--unencrypted] [--force]
 *                                                     # DIR/upkeep.key (0600), DIR/upkeep.pub (NAME.key, NAME.pub)
 *     upkeep release sign --key KEY [--sha256] FILE...                     # FILE.minisig (+ FILE.sha256)
 *     upkeep release verify --pub PUB [--pub PUB2] FILE [--sig SIG] [--allow-legacy] [--json]
 *     upkeep release manifest --key KEY --product NAME --out DIR [--add [--replace]] [--floor V]
 *                             [--expires 720h] [--serial N] [--critical V]... [--no-unpacked-size] ARTIFACT...
 *                             # DIR/NAME-releases.json + .minisig; --add keeps the releases already listed
 *                             # --product upkeep: upkeep's own releases (upkeep-v{version}-{os}-{arch}, the
 *                             # self-update), signed with upkeep's release key, never a product's
 *                             # PATCH files (`.patch`, from `release delta`) are listed with their artifact
 *     upkeep release delta --key KEY --from OLD --to NEW [--out DIR] [--level 19] [--json]
 *                             # DIR/NEW.from-<old version>.patch + .minisig (needs Debian's zstd here only)
 *
 * verify exits 0 when valid, 1 when not (with the reason), 2 on bad usage. Encrypted keys take their
 * password from UPKEEP_KEY_PASSWORD or a terminal prompt. Only flags are declared here: the work is in
 * cmd/release/ (one file a command), loaded inside the actions.
 */
import type { Command } from "commander";
import type { DeltaFlags } from "./release/delta.ts";
import type { KeygenFlags } from "./release/keygen.ts";
import type { ManifestFlags } from "./release/manifest.ts";
import type { PackFlags } from "./release/pack.ts";
import type { SignFlags } from "./release/sign.ts";
import type { VerifyFlags } from "./release/verify.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command): void {
  const release = program
    .command("release")
    .description("release engineering: signing keys, signatures, release manifests");
  registerPack(release);
  registerKeygen(release);
  registerSign(release);
  registerVerify(release);
  registerManifest(release);
  registerDelta(release);
}

/** `release delta`: a patch that rebuilds one artifact from an older one (core/sys/delta/make.ts). */
function registerDelta(release: Command): void {
  release
    .command("delta")
    .description(
      "make a signed patch NEW.from-<old version>.patch that rebuilds NEW from OLD (hosts download it instead of NEW when they have OLD)",
    )
    .requiredOption("--key <file>", "the secret key to sign the patch with")
    .requiredOption("--from <artifact>", "the older artifact (as hosts installed it)")
    .requiredOption("--to <artifact>", "the new artifact")
    .option("--out <dir>", "where to write the patch (default: the current folder)")
    .option("--level <n>", "zstd level, 1..19 (default 19: smallest, slowest)")
    .option("--json", "print the patch's path, size and sha256 as JSON")
    .action(async (opts: DeltaFlags) => {
      const { delta } = await import("./release/delta.ts");
      await delta(opts);
    });
}

function registerKeygen(release: Command): void {
  release
    .command("keygen")
    .description(
      "create a signing key pair: DIR/upkeep.key (secret, mode 0600) and DIR/upkeep.pub (NAME.* with --product)",
    )
    .requiredOption("--out-dir <dir>", "where to write the key pair (created if missing)")
    .option(
      "--product <name>",
      "name the files NAME.key and NAME.pub: NAME.pub is what `tools login` fetches (publish it with `admin publish --key`)",
    )
    .option("--unencrypted", "do not encrypt the secret key (for automation; keep the file safe)")
    .option("--force", "replace an existing key pair")
    .option("--json", "print the paths and key id as JSON")
    .action(async (opts: KeygenFlags) => {
      const { keygen } = await import("./release/keygen.ts");
      await keygen(opts);
    });
}

function registerSign(release: Command): void {
  release
    .command("sign")
    .description("sign files (minisign format, prehashed): FILE.minisig beside each")
    .requiredOption("--key <file>", "the secret key (minisign format; encrypted or not)")
    .option("--sha256", "also write FILE.sha256 (`<hex>  NAME`, as sha256sum does)")
    .option("--json", "print the signatures written as JSON")
    .argument("<file...>", "files to sign")
    .action(async (files: string[], opts: SignFlags) => {
      const { sign } = await import("./release/sign.ts");
      await sign(files, opts);
    });
}

function registerVerify(release: Command): void {
  release
    .command("verify")
    .description("verify a file's minisign signature: exit 0 valid, 1 invalid, 2 bad usage")
    .requiredOption(
      "--pub <key>",
      "a trusted public key: a minisign .pub file or the base64 key itself; repeatable (key rotation)",
      collect,
    )
    .option("--sig <file>", "the signature (default FILE.minisig)")
    .option("--allow-legacy", "accept legacy (non-prehashed) signatures")
    .option("--json", "print {valid, reason, code, key_id, trusted_comment} as JSON")
    .argument("<file>", "the file to verify")
    .action(async (file: string, opts: VerifyFlags) => {
      const { verify } = await import("./release/verify.ts");
      await verify(file, opts);
    });
}

function registerManifest(release: Command): void {
  release
    .command("manifest")
    .description(
      "write the signed release manifest DIR/NAME-releases.json (+ .minisig): every version hosts may install",
    )
    .requiredOption("--key <file>", "the secret key to sign the manifest with")
    .requiredOption(
      "--product <name>",
      "the product; artifact names must be NAME[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz (product upkeep: upkeep's own executables, upkeep-v{version}-{os}-{arch})",
    )
    .requiredOption("--out <dir>", "where to write the manifest and its signature")
    .option(
      "--add",
      "keep the releases of the manifest already in --out (verified with --key) and add these artifacts to it",
    )
    .option("--replace", "with --add: re-publish an artifact the manifest lists with other bytes")
    .option("--floor <version>", "lowest version hosts may install (with --add: default the manifest's)")
    .option("--expires <duration>", "validity from now (hosts refuse it after that)", "720h")
    .option("--serial <n>", "the manifest serial; must increase with each manifest (default: now in seconds)")
    .option(
      "--critical <version>",
      "mark a version critical; repeatable (--add keeps the manifest's)",
      collect,
    )
    .option(
      "--no-unpacked-size",
      "leave out each artifact's unpacked_size (for hosts running an upkeep older than the field)",
    )
    .option("--json", "print the manifest's path, serial and versions as JSON")
    .argument(
      "<artifact...>",
      "artifact files (their names give the versions), and patches (`.patch`, from `release delta`) to list with them",
    )
    .action(async (artifacts: string[], opts: ManifestFlags) => {
      const { writeManifest } = await import("./release/manifest.ts");
      await writeManifest(artifacts, opts);
    });
}

/** `release pack`: a folder -> the release tarball named by the artifact template (core/sys/release/pack.ts). */
function registerPack(release: Command): void {
  release
    .command("pack")
    .description(
      "make a release tarball from a folder: NAME[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz, executables under bin/",
    )
    .requiredOption("--product <name>", "the product (lowercase letters, digits and '-')")
    .requiredOption("--version <version>", "the release's version (semver, e.g. 1.2.3)")
    .option("--os <os>", "linux or darwin (default: this machine's)")
    .option("--arch <arch>", "amd64 or arm64 (default: this machine's)")
    .option("--edition <edition>", "oss or ent", "oss")
    .option("--fips", "a FIPS build (-fips in the name)")
    .option("--out <dir>", "where to write the tarball (created if missing)", ".")
    .option("--force", "replace an existing tarball of that name that has other contents")
    .option("--json", "print the artifact's path, size, sha256 and binaries as JSON")
    .argument(
      "<folder>",
      "the release's files: a bin/ folder is kept as is, else the top-level executables go into bin/",
    )
    .action(async (folder: string, opts: PackFlags) => {
      const { pack } = await import("./release/pack.ts");
      await pack(folder, opts);
    });
}
