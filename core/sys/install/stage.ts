/**
 * From the extracted temp folder to the version folder (installVersion's last steps): the release's layout
 * normalized (one top folder stripped, root executables moved into bin/, links checked again), the
 * completion marker written last, and the rename that commits the version.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { UpkeepError } from "../../errors.ts";
import { symlinkProblem, unsafe } from "../../install/extract_policy.ts";
import {
  binariesToMove,
  formatMarker,
  MARKER_FILE,
  releaseRootFolder,
  TMP_PREFIX,
} from "../../install/layout.ts";
import { errorCodeOf, ioError } from "../io_error.ts";
import { kindOfStat, readMarker } from "./dirs.ts";
import { fsyncDir, makeDir } from "./extract.ts";

/** A new temp folder name beside the versions (`.tmp-*`: never taken for a version). */
export function tempName(versionsDir: string): string {
  return join(versionsDir, `${TMP_PREFIX}${randomBytes(8).toString("hex")}`);
}

/** Removes a path; a failure is left for sweepLeftovers at the next install. */
export function remove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // sweepLeftovers gets it at the next install
  }
}

function entries(dir: string) {
  return readdirSync(dir).map((name) => {
    const st = lstatSync(join(dir, name));
    return { name, kind: kindOfStat(st), mode: st.mode };
  });
}

/**
 * Strips a lone top folder (renaming it to a new temp folder beside) and moves root-level executables into
 * bin/ when the release has no bin/. Returns the folder that becomes the version.
 */
export function normalizeLayout(tmp: string, newTemp: () => string): string {
  let root = tmp;
  const top = releaseRootFolder(entries(tmp));
  if (top !== undefined) {
    // Links that climbed into the stripped folder's parent would now leave the version: refuse them.
    checkLinksWithin(join(tmp, top), []);
    root = newTemp();
    renameSync(join(tmp, top), root);
    remove(tmp);
  }
  const plan = binariesToMove(entries(root));
  if (plan.createBin) {
    makeDir(join(root, "bin"));
    for (const f of plan.move) renameSync(join(root, f), join(root, "bin", f));
    fsyncDir(join(root, "bin"));
  }
  fsyncDir(root);
  return root;
}

/** Walks `dir` without following links; every symlink must satisfy the extraction rule from `dir`. */
function checkLinksWithin(dir: string, prefix: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    const rel = [...prefix, name];
    if (st.isSymbolicLink()) {
      const problem = symlinkProblem(rel, readlinkSync(path));
      if (problem) throw unsafe(rel.join("/"), `${problem} once the release's top folder is stripped`);
    } else if (st.isDirectory()) checkLinksWithin(path, rel);
  }
}

/** The completion marker, written and fsync-ed (the last write in the stage). */
export function writeMarker(stage: string, m: Parameters<typeof formatMarker>[0]): void {
  const path = join(stage, MARKER_FILE);
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    const data = new TextEncoder().encode(formatMarker(m));
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    if (fstatSync(fd).size !== data.length) throw new UpkeepError("E_IO", `short write of ${path}`);
  } finally {
    closeSync(fd);
  }
  fsyncDir(stage);
}

/**
 * Renames the staged folder to its version name. A folder of that name is replaced when it is incomplete
 * or holds other bytes (`sha256`) than the manifest's (a version re-published); one that holds these bytes
 * (another installer finished the same version meanwhile) is kept and the stage dropped.
 */
export function commit(stage: string, dir: string, sha256: string): void {
  try {
    renameSync(stage, dir);
  } catch (e) {
    const code = errorCodeOf(e);
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw ioError("rename", `${stage} to ${dir}`, e);
    if (readMarker(dir)?.sha256 === sha256) {
      remove(stage);
      return;
    }
    // Moved aside first (a `.tmp-*` name, never taken for a version), so the name is never a half-removed one.
    const aside = tempName(dirname(dir));
    renameSync(dir, aside);
    renameSync(stage, dir);
    fsyncDir(dirname(dir));
    remove(aside);
  }
  fsyncDir(dirname(dir));
}
