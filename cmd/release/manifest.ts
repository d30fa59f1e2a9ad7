/**
 * `upkeep release manifest`: the signed release manifest DIR/NAME-releases.json (+ .minisig). With --add, the
 * manifest already in --out (verified with the signing key) is extended; without, it is replaced (and the
 * versions it no longer lists are named).
 */
import { basename, join } from "node:path";
import { type ListedPatch, parsePatchFileName, patchFileName } from "../../core/delta/patch.ts";
import { parseDuration } from "../../core/duration.ts";
import { isUpkeepError, UpkeepError, UsageError } from "../../core/errors.ts";
import { readPatchHeader } from "../../core/sys/delta/apply.ts";
import { writeFileAtomic } from "../../core/sys/files.ts";
import { hashFile } from "../../core/sys/hash.ts";
import { gunzippedSize } from "../../core/sys/install/extract.ts";
import { loadSecretKey } from "../../core/sys/keys.ts";
import { readSignatureFile } from "../../core/sys/signing.ts";
import { isSelfExecutableName, SELF_PRODUCT, tryParseArtifactName } from "../../core/trust/artifact_name.ts";
import { buildManifest, nextSerial } from "../../core/trust/build_manifest.ts";
import { encodeUtf8 } from "../../core/trust/encoding.ts";
import {
  type Manifest,
  manifestFileName,
  parseManifest,
  serializeManifest,
} from "../../core/trust/manifest.ts";
import { type AddPlan, droppedVersions, planAdd } from "../../core/trust/manifest_add.ts";
import { manifestExpiry } from "../../core/trust/manifest_expiry.ts";
import {
  keyIdHex,
  publicKeyOfSecret,
  type SecretKey,
  signBytes,
  verifyBytes,
} from "../../core/trust/minisign.ts";
import { type JsonFlag, report, warn } from "../output.ts";
import { deriveNotice, requireFiles } from "./_shared.ts";

export interface ManifestFlags extends JsonFlag {
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
}

type Facts = { path: string; name: string; size: number; sha256: string; unpacked_size?: number };

export async function writeManifest(files: string[], opts: ManifestFlags): Promise<void> {
  if (opts.replace && !opts.add) throw new UsageError("--replace goes with --add");
  const patchFiles = files.filter((f) => parsePatchFileName(basename(f)) !== undefined);
  const artifacts = files.filter((f) => !patchFiles.includes(f));
  const ttl = validity(opts.expires);
  const now = new Date();
  const name = manifestFileName(opts.product);
  const path = join(opts.out, name);
  // The serial only goes up: hosts refuse a manifest older than one they have seen (E_ROLLBACK). The
  // manifest already in --out, if any, is the one to beat (and, with --add, the one to extend).
  const previous = await readPreviousManifest(path, opts.product, opts.add === true);
  const serial = nextSerial(now, previous?.manifest.serial, opts.serial, opts.out);
  await requireFiles(files);
  const facts = await checkedFacts(artifacts, opts);
  const patches = await patchFacts(patchFiles);
  const sk = await loadSecretKey(opts.key, deriveNotice());
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
  const listed = withPatches(
    plan ? plan.artifacts : given,
    patches,
    previous?.add ? previous.manifest : undefined,
  );
  const manifest = buildManifest({
    product: opts.product,
    serial,
    issued: now,
    expires: new Date(now.getTime() + ttl),
    ...(floor === undefined ? {} : { floor }),
    critical: plan ? plan.critical : (opts.critical ?? []),
    artifacts: listed,
  });
  const bytes = encodeUtf8(serializeManifest(manifest));
  const sig = await signBytes(sk, bytes, name, now.getTime() / 1000);
  await writeFileAtomic(path, bytes, { overwrite: true });
  await writeFileAtomic(`${path}.minisig`, sig, { overwrite: true });
  reportManifest(opts, { path, manifest, keyId: keyIdHex(sk.keyId), plan, previous, now });
}

/** A patch given to list: what it is listed as, and the artifact bytes it rebuilds. */
type PatchFacts = { path: string; listed: ListedPatch; artifact: string; sha256: string };

/** Each patch's header read (it names the artifact it rebuilds and the base it starts from), and hashed. */
async function patchFacts(paths: string[]): Promise<PatchFacts[]> {
  const out: PatchFacts[] = [];
  for (const path of paths) {
    let h: ReturnType<typeof readPatchHeader>["header"];
    try {
      h = readPatchHeader(path).header;
    } catch (e) {
      throw new UsageError(`${path} is not a patch written by upkeep release delta: ${(e as Error).message}`);
    }
    const name = basename(path);
    if (name !== patchFileName(h.to.name, h.from.version))
      throw new UsageError(
        `${path}: the patch is from ${h.from.version} to ${h.to.name}, so it must be named ${patchFileName(h.to.name, h.from.version)}`,
      );
    const r = await hashFile(path, ["sha256"]);
    out.push({
      path,
      artifact: h.to.name,
      sha256: h.to.sha256,
      listed: {
        from: h.from.version,
        name,
        size: r.size,
        sha256: r.sha256 ?? "",
        base_sha256: h.from.sha256,
      },
    });
  }
  return out;
}

/**
 * Each artifact with its patches: those the previous manifest listed for the same bytes (--add), then the
 * patches given (one from a version replaces the listed one). A patch must rebuild an artifact listed with
 * the bytes it was made to.
 */
function withPatches<T extends { name: string; sha256: string; patches?: ListedPatch[] }>(
  artifacts: T[],
  given: PatchFacts[],
  previous: Manifest | undefined,
): T[] {
  const old = new Map<string, { sha256: string; patches: ListedPatch[] }>();
  for (const r of previous?.releases ?? [])
    for (const a of r.artifacts) if (a.patches) old.set(a.name, { sha256: a.sha256, patches: a.patches });
  for (const p of given) {
    const a = artifacts.find((x) => x.name === p.artifact);
    if (!a)
      throw new UsageError(
        `${p.path} rebuilds ${p.artifact}, which this manifest does not list: name that artifact too`,
      );
    if (a.sha256 !== p.sha256)
      throw new UsageError(
        `${p.path} rebuilds ${p.artifact} with sha256 ${p.sha256}, but the manifest lists it with ${a.sha256}: make the patch again`,
      );
  }
  return artifacts.map((a) => {
    const prev = old.get(a.name);
    const byFrom = new Map<string, ListedPatch>();
    if (prev && prev.sha256 === a.sha256) for (const p of prev.patches) byFrom.set(p.from, p);
    for (const p of given) if (p.artifact === a.name) byFrom.set(p.listed.from, p.listed);
    const patches = [...byFrom.values()];
    return patches.length === 0 ? { ...a, patches: undefined } : { ...a, patches };
  });
}

/** --expires as milliseconds: at least an hour, at most 100 years. */
function validity(expires: string): number {
  let ttl: number;
  try {
    ttl = parseDuration(expires);
  } catch (e) {
    throw new UsageError(`--expires: ${e instanceof Error ? e.message : String(e)}`);
  }
  // A manifest must outlive its publication and the hosts' next checks; and stay a valid date.
  if (ttl < 3_600_000)
    throw new UsageError(`--expires ${expires}: at least 1h (hosts refuse an expired manifest)`);
  if (ttl > 100 * 365 * 24 * 3_600_000) throw new UsageError(`--expires ${expires}: at most 100 years`);
  return ttl;
}

/**
 * The artifacts' names checked against the product, and (unless --no-unpacked-size) what each decompresses
 * to (hosts check free space against it): also proves it is gzip. Before anything is hashed or a password
 * asked for.
 */
async function checkedFacts(artifacts: string[], opts: ManifestFlags): Promise<Facts[]> {
  const facts: Facts[] = artifacts.map((a) => ({ path: a, name: basename(a), size: 0, sha256: "" }));
  for (const f of facts) {
    if (!tryParseArtifactName(opts.product, f.name)) {
      throw new UsageError(
        `"${f.name}" is not an artifact of ${opts.product}: expected ${opts.product}[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz${opts.product === SELF_PRODUCT ? ` (upkeep's own executables: ${SELF_PRODUCT}-v{version}-{os}-{arch})` : ""}`,
      );
    }
  }
  if (opts.unpackedSize) {
    for (const f of facts) {
      // upkeep's own releases are bare executables: nothing to unpack.
      if (isSelfExecutableName(f.name)) continue;
      try {
        f.unpacked_size = await gunzippedSize(f.path);
      } catch (e) {
        throw new UsageError(
          `${f.path} is not a gzip-compressed tarball (hosts would refuse it): ${(e as Error).message}`,
        );
      }
    }
  }
  return facts;
}

/** What was written: the manifest's facts, what --add did or what a replaced manifest no longer lists. */
function reportManifest(
  opts: ManifestFlags,
  w: {
    path: string;
    manifest: Manifest;
    keyId: string;
    plan: AddPlan | undefined;
    previous: PreviousManifest | undefined;
    now: Date;
  },
): void {
  const { path, manifest, plan, previous } = w;
  // Without --add the new manifest replaces the old one: versions it no longer lists cannot be
  // installed (a rollback to them, a host still catching up). Said, not refused: it may be on purpose.
  const dropped = previous && !previous.add ? droppedVersions(previous.manifest, manifest) : [];
  if (dropped.length > 0 && !opts.json)
    warn(
      `note: the manifest this one replaces listed ${dropped.join(", ")}, which this one does not: hosts can no longer install ${dropped.length === 1 ? "it" : "them"} (--add keeps the listed releases)`,
    );
  const expiry = manifestExpiry(manifest.expires, w.now);
  report(
    opts,
    {
      manifest: path,
      signature: `${path}.minisig`,
      key_id: w.keyId,
      serial: manifest.serial,
      expires: manifest.expires,
      floor: manifest.floor,
      versions: manifest.releases.map((r) => r.version),
      patches: manifest.releases.flatMap((r) =>
        r.artifacts.flatMap((a) => (a.patches ?? []).map((p) => p.name)),
      ),
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
        `wrote ${d.manifest} and its .minisig: serial ${d.serial}, floor ${d.floor ?? "none"}, versions ${d.versions.join(", ")}${d.patches.length ? `; patches ${d.patches.join(", ")}` : ""}`,
        ...(plan
          ? [
              `added ${plan.newNames.length ? plan.newNames.join(", ") : "nothing new"}${plan.replacedNames.length ? `; replaced ${plan.replacedNames.join(", ")}` : ""}${plan.unchangedNames.length ? `; already listed: ${plan.unchangedNames.join(", ")}` : ""}`,
            ]
          : []),
        `expires ${d.expires} (${expiry.relative}): hosts stop updating then; before that, write a new one (--add keeps these releases) and publish it`,
      ].join("\n"),
  );
}

interface PreviousManifest {
  manifest: Manifest;
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
  const f = Bun.file(path);
  if (!(await f.exists())) {
    if (add)
      throw new UsageError(`--add: there is no manifest ${path} to add to`, {
        code: "E_NOT_FOUND",
        hint: "check --out; for the first manifest leave out --add",
      });
    return undefined;
  }
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

/** --add: the manifest in --out must verify with the public half of the key that signs the new one. */
async function verifyPrevious(previous: PreviousManifest, sk: SecretKey, keyPath: string): Promise<void> {
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
