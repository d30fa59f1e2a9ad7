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
 *
 * verify exits 0 when valid, 1 when not (with the reason), 2 on bad usage. Encrypted keys take their
 * password from UPKEEP_KEY_PASSWORD or a terminal prompt. The work loads inside the actions.
 */
import type { Command } from "commander";

interface JsonFlag {
  json?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command): void {
  const release = program
    .command("release")
    .description("release engineering: signing keys, signatures, release manifests");

  registerPack(release);

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
    .action(
      async (
        opts: { outDir: string; product?: string; unencrypted?: boolean; force?: boolean } & JsonFlag,
      ) => {
        const { writeKeyPair } = await import("../core/sys/keys.ts");
        const { isValidProduct } = await import("../core/trust/artifact_name.ts");
        const { UsageError } = await import("../core/errors.ts");
        // Checked before a password is asked for.
        if (opts.product !== undefined && !isValidProduct(opts.product))
          throw new UsageError(
            `--product ${JSON.stringify(opts.product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
          );
        const { getPassword } = await import("../core/sys/password.ts");
        const { encodePublicKey } = await import("../core/trust/minisign.ts");
        const { print, report } = await import("./output.ts");
        const password = opts.unencrypted
          ? undefined
          : await getPassword({ label: "the new secret key", confirm: true });
        if (!opts.json && password !== undefined)
          print("Deriving the encryption key (scrypt, about 1 GiB, a few seconds)...");
        const r = await writeKeyPair(opts.outDir, {
          force: opts.force,
          password,
          ...(opts.product === undefined ? {} : { name: opts.product }),
        });
        report(
          opts,
          {
            secret_key: r.secretKeyPath,
            public_key: r.publicKeyPath,
            key_id: r.keyId,
            public_key_base64: encodePublicKey(r.publicKey),
            encrypted: password !== undefined,
          },
          (d) =>
            [
              `secret key: ${d.secret_key} (${d.encrypted ? "encrypted" : "NOT encrypted"}; keep it offline)`,
              `public key: ${d.public_key} (key id ${d.key_id})`,
              `verify with: upkeep release verify --pub ${d.public_key_base64} FILE`,
              `         or: minisign -Vm FILE -P ${d.public_key_base64}`,
              `publish it for \`tools login\`: upkeep admin publish --key ${d.public_key}`,
            ].join("\n"),
        );
      },
    );

  release
    .command("sign")
    .description("sign files (minisign format, prehashed): FILE.minisig beside each")
    .requiredOption("--key <file>", "the secret key (minisign format; encrypted or not)")
    .option("--sha256", "also write FILE.sha256 (`<hex>  NAME`, as sha256sum does)")
    .option("--json", "print the signatures written as JSON")
    .argument("<file...>", "files to sign")
    .action(async (files: string[], opts: { key: string; sha256?: boolean } & JsonFlag) => {
      const { loadSecretKey } = await import("../core/sys/keys.ts");
      const { signFile } = await import("../core/sys/signing.ts");
      const { fileSize, hashFile } = await import("../core/sys/hash.ts");
      const { writeFileAtomic } = await import("../core/sys/files.ts");
      const { formatChecksumFile } = await import("../core/trust/checksum_file.ts");
      const { keyIdHex } = await import("../core/trust/minisign.ts");
      const { UsageError } = await import("../core/errors.ts");
      const { basename } = await import("node:path");
      const { print } = await import("./output.ts");
      for (const f of files) {
        try {
          await fileSize(f);
        } catch (e) {
          throw new UsageError(e instanceof Error ? e.message : String(e), { code: "E_IO" });
        }
      }
      const sk = await loadSecretKey(opts.key, await deriveNotice());
      const written: { file: string; signature: string; sha256?: string }[] = [];
      for (const f of files) {
        const sig = await signFile(f, sk);
        await writeFileAtomic(`${f}.minisig`, sig, { overwrite: true });
        const entry: { file: string; signature: string; sha256?: string } = {
          file: f,
          signature: `${f}.minisig`,
        };
        if (opts.sha256) {
          const { sha256 } = await hashFile(f, ["sha256"]);
          await writeFileAtomic(`${f}.sha256`, formatChecksumFile(sha256 ?? "", basename(f)), {
            overwrite: true,
          });
          entry.sha256 = `${f}.sha256`;
        }
        written.push(entry);
        if (!opts.json) print(`signed ${f} -> ${f}.minisig${opts.sha256 ? ` (+ ${f}.sha256)` : ""}`);
      }
      if (opts.json) print(JSON.stringify({ key_id: keyIdHex(sk.keyId), signed: written }, null, 2));
    });

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
    .action(async (file: string, opts: { pub: string[]; sig?: string; allowLegacy?: boolean } & JsonFlag) => {
      const { loadTrustedKeys } = await import("../core/sys/keys.ts");
      const { readSignatureFile, verifyFileSignature } = await import("../core/sys/signing.ts");
      const { fileSize } = await import("../core/sys/hash.ts");
      const { isUpkeepError, UsageError } = await import("../core/errors.ts");
      const { print, warn } = await import("./output.ts");
      const { setExitCode } = await import("./context.ts");
      try {
        await fileSize(file);
      } catch (e) {
        throw new UsageError(e instanceof Error ? e.message : String(e), { code: "E_IO" });
      }
      const keys = await loadTrustedKeys(opts.pub);
      const sigPath = opts.sig ?? `${file}.minisig`;
      let verdict: Awaited<ReturnType<typeof verifyFileSignature>>;
      try {
        const text = await readSignatureFile(sigPath);
        verdict = await verifyFileSignature(file, text, keys, { allowLegacy: opts.allowLegacy });
      } catch (e) {
        if (!isUpkeepError(e)) throw e;
        // A missing or oversized signature file: the file is not validly signed.
        verdict = { ok: false, code: e.code, reason: e.message };
      }
      if (verdict.ok) {
        if (opts.json) {
          print(
            JSON.stringify(
              {
                valid: true,
                reason: null,
                code: null,
                key_id: verdict.keyId,
                trusted_comment: verdict.trustedComment,
              },
              null,
              2,
            ),
          );
        } else {
          print(`valid: ${file} signed by key ${verdict.keyId}`);
          print(`trusted comment: ${verdict.trustedComment}`);
        }
        return;
      }
      setExitCode(1);
      if (opts.json) {
        print(
          JSON.stringify(
            {
              valid: false,
              reason: verdict.reason,
              code: verdict.code,
              key_id: verdict.keyId ?? null,
              trusted_comment: null,
            },
            null,
            2,
          ),
        );
      } else {
        warn(`upkeep: INVALID: ${file}: ${verdict.reason} (${verdict.code})`);
      }
    });

  release
    .command("manifest")
    .description(
      "write the signed release manifest DIR/NAME-releases.json (+ .minisig): every version hosts may install",
    )
    .requiredOption("--key <file>", "the secret key to sign the manifest with")
    .requiredOption(
      "--product <name>",
      "the product; artifact names must be NAME[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz",
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
    .argument("<artifact...>", "artifact files (their names give the versions)")
    .action(
      async (
        artifacts: string[],
        opts: {
          key: string;
          product: string;
          out: string;
          add?: boolean;
          replace?: boolean;
          floor?: string;
          expires: string;
          serial?: string;
          critical?: string[];
          unpackedSize: boolean;
        } & JsonFlag,
      ) => {
        const { UsageError } = await import("../core/errors.ts");
        const { parseDuration } = await import("../core/duration.ts");
        const { manifestFileName, serializeManifest } = await import("../core/trust/manifest.ts");
        const { buildManifest, nextSerial } = await import("../core/trust/build_manifest.ts");
        const { droppedVersions, planAdd } = await import("../core/trust/manifest_add.ts");
        const { manifestExpiry } = await import("../core/trust/manifest_expiry.ts");
        const { signBytes, keyIdHex } = await import("../core/trust/minisign.ts");
        const { encodeUtf8 } = await import("../core/trust/encoding.ts");
        const { hashFile, fileSize } = await import("../core/sys/hash.ts");
        const { gunzippedSize } = await import("../core/sys/install/extract.ts");
        const { loadSecretKey } = await import("../core/sys/keys.ts");
        const { writeFileAtomic } = await import("../core/sys/files.ts");
        const { basename, join } = await import("node:path");
        const { report, warn } = await import("./output.ts");

        if (opts.replace && !opts.add) throw new UsageError("--replace goes with --add");
        let ttl: number;
        try {
          ttl = parseDuration(opts.expires);
        } catch (e) {
          throw new UsageError(`--expires: ${e instanceof Error ? e.message : String(e)}`);
        }
        // A manifest must outlive its publication and the hosts' next checks; and stay a valid date.
        if (ttl < 3_600_000)
          throw new UsageError(`--expires ${opts.expires}: at least 1h (hosts refuse an expired manifest)`);
        if (ttl > 100 * 365 * 24 * 3_600_000)
          throw new UsageError(`--expires ${opts.expires}: at most 100 years`);
        const now = new Date();
        const name = manifestFileName(opts.product);
        const path = join(opts.out, name);
        // The serial only goes up: hosts refuse a manifest older than one they have seen (E_ROLLBACK). The
        // manifest already in --out, if any, is the one to beat (and, with --add, the one to extend).
        const previous = await readPreviousManifest(path, opts.product, opts.add === true);
        const serial = nextSerial(now, previous?.manifest.serial, opts.serial, opts.out);
        for (const a of artifacts) {
          try {
            await fileSize(a);
          } catch (e) {
            throw new UsageError(e instanceof Error ? e.message : String(e), { code: "E_IO" });
          }
        }
        // Names are checked before anything is hashed or a password asked for.
        const facts: { path: string; name: string; size: number; sha256: string; unpacked_size?: number }[] =
          artifacts.map((a) => ({ path: a, name: basename(a), size: 0, sha256: "" }));
        const { tryParseArtifactName } = await import("../core/trust/artifact_name.ts");
        for (const f of facts) {
          if (!tryParseArtifactName(opts.product, f.name)) {
            throw new UsageError(
              `"${f.name}" is not an artifact of ${opts.product}: expected ${opts.product}[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz`,
            );
          }
        }
        // What each artifact decompresses to (hosts check free space against it): also proves it is gzip,
        // before a password is asked for.
        if (opts.unpackedSize) {
          for (const f of facts) {
            try {
              f.unpacked_size = await gunzippedSize(f.path);
            } catch (e) {
              throw new UsageError(
                `${f.path} is not a gzip-compressed tarball (hosts would refuse it): ${(e as Error).message}`,
              );
            }
          }
        }
        const sk = await loadSecretKey(opts.key, await deriveNotice());
        // --add builds on the manifest in --out only once it verifies with this key: a manifest someone else
        // wrote (or signed with another key) is never extended and re-signed.
        if (previous?.add) await verifyPrevious(previous, sk, opts.key);
        for (const f of facts) {
          const r = await hashFile(f.path, ["sha256"]);
          f.size = r.size;
          f.sha256 = r.sha256 ?? "";
          if (!opts.unpackedSize) delete f.unpacked_size;
        }
        const given = facts.map(({ name, size, sha256, unpacked_size }) => ({
          name,
          size,
          sha256,
          ...(unpacked_size === undefined ? {} : { unpacked_size }),
        }));
        const plan = previous?.add
          ? planAdd({
              previous: previous.manifest,
              added: given,
              replace: opts.replace === true,
              ...(opts.floor === undefined ? {} : { floor: opts.floor }),
              critical: opts.critical ?? [],
            })
          : undefined;
        const floor = plan ? plan.floor : opts.floor;
        const manifest = buildManifest({
          product: opts.product,
          serial,
          issued: now,
          expires: new Date(now.getTime() + ttl),
          ...(floor === undefined ? {} : { floor }),
          critical: plan ? plan.critical : (opts.critical ?? []),
          artifacts: plan ? plan.artifacts : given,
        });
        const bytes = encodeUtf8(serializeManifest(manifest));
        const sig = await signBytes(sk, bytes, name, now.getTime() / 1000);
        await writeFileAtomic(path, bytes, { overwrite: true });
        await writeFileAtomic(`${path}.minisig`, sig, { overwrite: true });
        // Without --add the new manifest replaces the old one: versions it no longer lists cannot be
        // installed (a rollback to them, a host still catching up). Said, not refused: it may be on purpose.
        const dropped = previous && !previous.add ? droppedVersions(previous.manifest, manifest) : [];
        if (dropped.length > 0 && !opts.json)
          warn(
            `note: the manifest this one replaces listed ${dropped.join(", ")}, which this one does not: hosts can no longer install ${dropped.length === 1 ? "it" : "them"} (--add keeps the listed releases)`,
          );
        const expiry = manifestExpiry(manifest.expires, now);
        report(
          opts,
          {
            manifest: path,
            signature: `${path}.minisig`,
            key_id: keyIdHex(sk.keyId),
            serial: manifest.serial,
            expires: manifest.expires,
            floor: manifest.floor,
            versions: manifest.releases.map((r) => r.version),
            ...(plan
              ? {
                  added: plan.newNames,
                  replaced: plan.replacedNames,
                  unchanged: plan.unchangedNames,
                  kept_versions: plan.keptVersions,
                }
              : { dropped_versions: dropped }),
          },
          (d) =>
            [
              `wrote ${d.manifest} and its .minisig: serial ${d.serial}, floor ${d.floor ?? "none"}, versions ${d.versions.join(", ")}`,
              ...(plan
                ? [
                    `added ${plan.newNames.length ? plan.newNames.join(", ") : "nothing new"}${plan.replacedNames.length ? `; replaced ${plan.replacedNames.join(", ")}` : ""}${plan.unchangedNames.length ? `; already listed: ${plan.unchangedNames.join(", ")}` : ""}`,
                  ]
                : []),
              `expires ${d.expires} (${expiry.relative}): hosts stop updating then; before that, write a new one (--add keeps these releases) and publish it`,
            ].join("\n"),
        );
      },
    );
}

interface PreviousManifest {
  manifest: Awaited<ReturnType<typeof import("../core/trust/manifest.ts")["parseManifest"]>>;
  bytes: Uint8Array;
  path: string;
  /** --add: to be verified with the signing key, then extended. */
  add: boolean;
}

/**
 * The manifest at `path`: undefined when there is none (refused with `add`: there is nothing to add to). A
 * damaged one is refused either way (its serial is the one to beat).
 */
async function readPreviousManifest(
  path: string,
  product: string,
  add: boolean,
): Promise<PreviousManifest | undefined> {
  const { UsageError } = await import("../core/errors.ts");
  const f = Bun.file(path);
  if (!(await f.exists())) {
    if (add)
      throw new UsageError(`--add: there is no manifest ${path} to add to`, {
        code: "E_NOT_FOUND",
        hint: "check --out; for the first manifest leave out --add",
      });
    return undefined;
  }
  const { parseManifest } = await import("../core/trust/manifest.ts");
  const bytes = new Uint8Array(await f.arrayBuffer());
  try {
    const manifest = parseManifest(new TextDecoder().decode(bytes), add ? { product } : {});
    return { manifest, bytes, path, add };
  } catch (e) {
    throw new UsageError(`${path} exists but is not a release manifest: ${(e as Error).message}`, {
      hint: add
        ? "nothing was written; restore it, or write a new one without --add"
        : "move it away, or choose another --out",
    });
  }
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
    .action(
      async (
        folder: string,
        opts: {
          product: string;
          version: string;
          os?: string;
          arch?: string;
          edition: string;
          fips?: boolean;
          out: string;
          force?: boolean;
        } & JsonFlag,
      ) => {
        const { UsageError } = await import("../core/errors.ts");
        const { isValidProduct } = await import("../core/trust/artifact_name.ts");
        const { tryParseVersion, formatVersion } = await import("../core/version/mod.ts");
        const { currentPlatform } = await import("../core/sys/install/mod.ts");
        const { packRelease } = await import("../core/sys/release/pack.ts");
        const { report, warn } = await import("./output.ts");
        if (!isValidProduct(opts.product))
          throw new UsageError(
            `--product ${JSON.stringify(opts.product)}: use lowercase letters, digits and '-' (e.g. hello)`,
          );
        const v = tryParseVersion(opts.version);
        if (!v)
          throw new UsageError(`--version ${JSON.stringify(opts.version)}: not a version (e.g. 1.2.3)`, {
            code: "E_BAD_VERSION",
          });
        const pick = (flag: string, given: string | undefined, allowed: string[], here: () => string) => {
          const value = given ?? here();
          if (!allowed.includes(value))
            throw new UsageError(`${flag} ${JSON.stringify(value)}: one of ${allowed.join(", ")}`);
          return value;
        };
        const os = pick("--os", opts.os, ["linux", "darwin"], () => currentPlatform().os);
        const arch = pick("--arch", opts.arch, ["amd64", "arm64"], () => currentPlatform().arch);
        const edition = pick("--edition", opts.edition, ["oss", "ent"], () => "oss") as "oss" | "ent";
        const r = await packRelease({
          dir: folder,
          out: opts.out,
          product: opts.product,
          version: formatVersion(v),
          os,
          arch,
          edition,
          fips: opts.fips === true,
          force: opts.force === true,
        });
        if (!opts.json) for (const w of r.warnings) warn(`upkeep: warning: ${w}`);
        report(opts, r, (d) => {
          const what = d.outcome === "unchanged" ? "unchanged (the same bytes were there)" : d.outcome;
          return [
            `${d.artifact}: ${what}, ${d.size} bytes, sha256 ${d.sha256}`,
            `  ${d.entries} entries; bin/: ${d.binaries.join(", ")}${d.moved.length ? ` (moved from the top: ${d.moved.join(", ")})` : ""}`,
          ].join("\n");
        });
      },
    );
}

/** --add: the manifest in --out must verify with the public half of the key that signs the new one. */
async function verifyPrevious(
  previous: PreviousManifest,
  sk: import("../core/trust/minisign.ts").SecretKey,
  keyPath: string,
): Promise<void> {
  const { UpkeepError, isUpkeepError } = await import("../core/errors.ts");
  const { keyIdHex, publicKeyOfSecret, verifyBytes } = await import("../core/trust/minisign.ts");
  const { readSignatureFile } = await import("../core/sys/signing.ts");
  const { basename } = await import("node:path");
  const id = keyIdHex(sk.keyId);
  const refuse = (why: string, cause?: unknown) =>
    new UpkeepError(
      "E_SIGNATURE",
      `--add: ${previous.path} does not verify with the public key of ${keyPath} (key id ${id}): ${why}`,
      {
        ...(cause === undefined ? {} : { cause }),
        hint: "nothing was written; keep each manifest with the key that signed it (or write a new one without --add, listing every artifact hosts may install)",
      },
    );
  let sig: string;
  try {
    sig = await readSignatureFile(`${previous.path}.minisig`);
  } catch (e) {
    throw refuse(
      `its signature ${basename(previous.path)}.minisig cannot be read (${(e as Error).message})`,
      e,
    );
  }
  try {
    await verifyBytes(previous.bytes, sig, [publicKeyOfSecret(sk)], {
      expectedFile: basename(previous.path),
    });
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    throw refuse(e.message, e);
  }
}

/**
 * Opening an encrypted key pauses for seconds (scrypt, about 1 GiB): on a terminal, say so on stderr once the
 * password is known, as keygen does. Not on a terminal: nothing (scripts read stderr for errors).
 */
async function deriveNotice(): Promise<{ onDerive: () => void }> {
  const { isatty } = await import("node:tty");
  const { warn } = await import("./output.ts");
  return { onDerive: () => (isatty(2) ? warn("Deriving the key (scrypt) ...") : undefined) };
}
