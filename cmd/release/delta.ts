/**
 * `upkeep release delta --key KEY --from OLD --to NEW [--out DIR]`: the patch that rebuilds NEW from OLD
 * (core/sys/delta/make.ts), `<NEW>.from-<old version>.patch`, signed like any artifact (`.minisig`). List it
 * with `upkeep release manifest ... NEW PATCH`: hosts only apply a patch the signed manifest lists.
 */
import { mkdirSync } from "node:fs";
import { basename } from "node:path";
import { UsageError } from "../../core/errors.ts";
import { makePatch } from "../../core/sys/delta/make.ts";
import { writeFileAtomic } from "../../core/sys/files.ts";
import { hashFile } from "../../core/sys/hash.ts";
import { loadSecretKey } from "../../core/sys/keys.ts";
import { signFile } from "../../core/sys/signing.ts";
import { type ArtifactName, tryParseArtifactName } from "../../core/trust/artifact_name.ts";
import { type JsonFlag, report, warn } from "../output.ts";
import { deriveNotice, requireFiles } from "./_shared.ts";

export interface DeltaFlags extends JsonFlag {
  key: string;
  from: string;
  to: string;
  out?: string;
  level?: string;
}

/** The artifact a file name gives (any product: the name's prefix before `-v<version>` or `-ent-v`). */
export function artifactOfName(name: string): ArtifactName | undefined {
  for (let i = name.indexOf("-"); i > 0; i = name.indexOf("-", i + 1)) {
    const a = tryParseArtifactName(name.slice(0, i), name);
    if (a) return a;
  }
  return undefined;
}

function artifact(path: string, flag: string): ArtifactName {
  const a = artifactOfName(basename(path));
  if (!a)
    throw new UsageError(
      `${flag} ${path}: not a release artifact name (NAME[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz, or upkeep-v{version}-{os}-{arch})`,
    );
  return a;
}

export async function delta(opts: DeltaFlags): Promise<void> {
  const from = artifact(opts.from, "--from");
  const to = artifact(opts.to, "--to");
  const same = (k: keyof ArtifactName) => from[k] === to[k];
  if (!same("product") || !same("os") || !same("arch") || !same("edition") || !same("fips"))
    throw new UsageError(
      `--from ${basename(opts.from)} and --to ${basename(opts.to)} are not the same product, platform and edition`,
    );
  if (from.version === to.version) throw new UsageError(`--from and --to are both version ${to.version}`);
  const level = opts.level === undefined ? 19 : Number(opts.level);
  if (!Number.isInteger(level) || level < 1 || level > 19)
    throw new UsageError(`--level ${opts.level}: 1..19`);
  await requireFiles([opts.from, opts.to]);
  const out = opts.out ?? ".";
  mkdirSync(out, { recursive: true });
  const sk = await loadSecretKey(opts.key, deriveNotice());
  const [hf, ht] = [await hashFile(opts.from, ["sha256"]), await hashFile(opts.to, ["sha256"])];
  const made = await makePatch({
    from: {
      path: opts.from,
      version: from.version,
      name: basename(opts.from),
      size: hf.size,
      sha256: hf.sha256 ?? "",
    },
    to: {
      path: opts.to,
      version: to.version,
      name: basename(opts.to),
      size: ht.size,
      sha256: ht.sha256 ?? "",
    },
    out,
    level,
  });
  await writeFileAtomic(`${made.path}.minisig`, await signFile(made.path, sk), { overwrite: true });
  if (made.note && !opts.json) warn(`note: ${made.note}`);
  report(
    opts,
    {
      patch: made.path,
      signature: `${made.path}.minisig`,
      from: from.version,
      to: to.version,
      content: made.header.content,
      size: made.size,
      sha256: made.sha256,
      full_size: ht.size,
      percent_of_full: Math.round((made.size / Math.max(1, ht.size)) * 10_000) / 100,
      ...(made.note ? { note: made.note } : {}),
    },
    (d) =>
      `wrote ${d.patch} and its .minisig: ${d.size} bytes (${d.percent_of_full}% of the ${d.full_size}-byte artifact), from ${d.from} to ${d.to}\nlist it with: upkeep release manifest --add ... ${basename(opts.to)} ${basename(d.patch)}`,
  );
}
