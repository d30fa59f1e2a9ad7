/**
 * `upkeep release pack`: a folder -> the product's release tarball, named by the artifact template
 * (`{product}[-ent]-v{version}-{os}-{arch}[-fips]-bin.tar.gz`), with the executables under `bin/`.
 * What goes in, and what is refused, is decided by core/release/pack_plan.ts; this module walks the folder
 * and writes the archive (a temporary file beside the target, renamed into place when complete).
 *
 * An artifact of that name already there: identical bytes are kept (packing twice is harmless), different
 * ones are refused unless `force` (an artifact hosts may have installed should not change under its name).
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { UpkeepError, UsageError } from "../../errors.ts";
import { DEFAULT_EXTRACT_LIMITS } from "../../install/extract_policy.ts";
import { type PackPlan, planPack, type SourceEntry } from "../../release/pack_plan.ts";
import { END_OF_ARCHIVE, entryHeaders, padding } from "../../release/tar_write.ts";
import { type Edition, formatArtifactName } from "../../trust/artifact_name.ts";
import { syncDir } from "../files.ts";
import { hashFile } from "../hash.ts";
import { ioError } from "../io_error.ts";
import { writeGzip } from "./gzip.ts";

export interface PackOptions {
  /** The folder to pack. */
  dir: string;
  /** Where the artifact goes (created if missing). */
  out: string;
  product: string;
  version: string;
  os: string;
  arch: string;
  edition: Edition;
  fips: boolean;
  /** Replace an existing artifact of the same name with different bytes. */
  force?: boolean;
}

export interface PackResult {
  artifact: string;
  name: string;
  size: number;
  sha256: string;
  entries: number;
  /** Bytes of file data in the archive. */
  bytes: number;
  moved: string[];
  binaries: string[];
  warnings: string[];
  /** "written", "unchanged" (the same bytes were there already) or "replaced" (--force). */
  outcome: "written" | "unchanged" | "replaced";
}

const OTHER: [(s: Stats) => boolean, string][] = [
  [(s) => s.isFIFO(), "a fifo"],
  [(s) => s.isSocket(), "a socket"],
  [(s) => s.isCharacterDevice(), "a character device"],
  [(s) => s.isBlockDevice(), "a block device"],
];

/** The folder's entries (lstat: links are not followed), stopping early past the installer's entry cap. */
async function walk(root: string, label: string): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  const max = DEFAULT_EXTRACT_LIMITS.maxFiles;
  const visit = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(rel ? join(root, rel) : root)).sort();
    } catch (e) {
      throw ioError("read", rel ? `${label}/${rel}` : label, e);
    }
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      let s: Stats;
      try {
        s = await lstat(join(root, path));
      } catch (e) {
        throw ioError("read", `${label}/${path}`, e);
      }
      if (out.length >= max)
        throw new UsageError(
          `cannot pack ${label}: more than ${max} entries (hosts refuse such an archive)`,
          { code: "E_UNSAFE_ARCHIVE" },
        );
      const mode = s.mode & 0o7777;
      if (s.isDirectory()) {
        out.push({ path, kind: "directory", mode, size: 0 });
        await visit(path);
      } else if (s.isSymbolicLink()) {
        out.push({ path, kind: "symlink", mode, size: 0, target: await readlink(join(root, path)) });
      } else if (s.isFile()) {
        out.push({ path, kind: "file", mode, size: s.size });
      } else {
        const what = OTHER.find(([is]) => is(s))?.[1] ?? "a special file";
        out.push({ path, kind: "other", mode, size: 0, what });
      }
    }
  };
  await visit("");
  return out;
}

/** The real path `p` would have: its deepest existing ancestor resolved, the rest appended. */
async function realTarget(p: string): Promise<string> {
  const abs = resolve(p);
  let base = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(base), ...rest.reverse());
    } catch {
      const parent = dirname(base);
      if (parent === base) return abs;
      rest.push(basename(base));
      base = parent;
    }
  }
}

/** The bytes of one file, read through a descriptor opened without following links, checked against the walk. */
async function* fileBytes(
  root: string,
  label: string,
  source: string,
  size: number,
): AsyncGenerator<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(join(root, source), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    throw ioError("read", `${label}/${source}`, e);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile() || s.size !== size)
      throw new UpkeepError("E_IO", `${label}/${source} changed while it was being packed`, {
        hint: "pack a folder nothing else writes to",
      });
    const buf = new Uint8Array(1 << 20);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) break;
      done += bytesRead;
      yield buf.slice(0, bytesRead);
    }
    if (done !== size)
      throw new UpkeepError("E_IO", `${label}/${source} changed while it was being packed (shorter)`, {
        hint: "pack a folder nothing else writes to",
      });
  } finally {
    await fh.close();
  }
}

async function* archive(root: string, label: string, plan: PackPlan): AsyncGenerator<Uint8Array> {
  for (const e of plan.entries) {
    const type = e.kind === "directory" ? "5" : e.kind === "symlink" ? "2" : "0";
    yield* entryHeaders({ name: e.name, mode: e.mode, size: e.size, type, linkname: e.target });
    if (e.kind === "file") {
      yield* fileBytes(root, label, e.source, e.size);
      yield padding(e.size);
    }
  }
  yield END_OF_ARCHIVE;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([hashFile(a, ["sha256"]), hashFile(b, ["sha256"])]);
  return x.size === y.size && x.sha256 === y.sha256;
}

export async function packRelease(o: PackOptions): Promise<PackResult> {
  const name = formatArtifactName({
    product: o.product,
    edition: o.edition,
    version: o.version,
    os: o.os,
    arch: o.arch,
    fips: o.fips,
  });
  const label = o.dir.replace(/\/+$/, "") || "/";
  let s: Stats;
  try {
    s = await stat(o.dir);
  } catch (e) {
    throw new UsageError(ioError("read", label, e).message, { code: "E_IO" });
  }
  if (!s.isDirectory())
    throw new UsageError(`${label} is not a folder: pack takes the folder holding the release's files`);
  const root = await realpath(o.dir);
  const outReal = await realTarget(o.out);
  if (outReal === root || outReal.startsWith(root + sep))
    throw new UsageError(
      `--out ${o.out} is inside ${label}: the next pack would put this artifact in the release`,
      { hint: "write artifacts next to the folder, e.g. --out releases" },
    );

  const plan = planPack(await walk(root, label), { label, product: o.product });

  try {
    await mkdir(o.out, { recursive: true });
  } catch (e) {
    throw ioError("create", o.out, e);
  }
  const artifact = join(o.out, name);
  const tmp = join(o.out, `.${name}.tmp-${randomBytes(6).toString("hex")}`);
  let outcome: PackResult["outcome"] = "written";
  try {
    try {
      await writeGzip(tmp, archive(root, label, plan), { exclusive: true });
    } catch (e) {
      throw ioError("write", tmp, e);
    }
    const existing = await lstat(artifact).catch(() => undefined);
    if (existing) {
      if (existing.isFile() && (await sameBytes(tmp, artifact))) outcome = "unchanged";
      else if (!o.force)
        throw new UpkeepError("E_EXISTS", `${artifact} exists with other contents`, {
          hint: "a published artifact should not change under its name: pack a new version, or pass --force to replace it",
        });
      else outcome = "replaced";
    }
    if (outcome !== "unchanged") {
      await rename(tmp, artifact);
      await syncDir(o.out);
    }
  } finally {
    await rm(tmp, { force: true });
  }
  const { size, sha256 = "" } = await hashFile(artifact, ["sha256"]);
  return {
    artifact,
    name,
    size,
    sha256,
    entries: plan.entries.length,
    bytes: plan.bytes,
    moved: plan.moved,
    binaries: plan.binaries,
    warnings: plan.warnings,
    outcome,
  };
}
