/**
 * `upkeep admin publish`: artifacts with their `.sha256` and `.minisig`, release manifests, and the release
 * public key, each checked before the first byte goes out, uploaded in an order that never lists an artifact
 * that is not there yet.
 */

import { readdirSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Command } from "commander";
import { isUpkeepError, UpkeepError, UsageError } from "../../core/errors.ts";
import { hashFile } from "../../core/sys/hash.ts";
import { ioError } from "../../core/sys/io_error.ts";
import { loadTrustedKeys } from "../../core/sys/keys.ts";
import { isStoredName } from "../../core/trust/artifact_name.ts";
import { parseChecksumFile } from "../../core/trust/checksum_file.ts";
import { keyIdHex } from "../../core/trust/minisign.ts";
import { type ApiClient, ApiError, type ArtifactView } from "../../server/client.ts";
import { type JsonFlag, print } from "../output.ts";
import { connect } from "./connect.ts";

interface Upload {
  /** Path on disk. */
  path: string;
  /** Artifact name on the server (the file's base name). */
  name: string;
  /** sha256 of the local file, computed before upload. */
  sha256: string;
  size: number;
}

const SIDECARS = [".sha256", ".minisig"];
const MANIFEST_SUFFIX = "-releases.json";

async function sha256File(path: string): Promise<string> {
  return (await hashFile(path, ["sha256"])).sha256 ?? "";
}

/** `admin publish FILE... [--key PUBFILE]`: the files, then the key (uploaded first), from the command's flags. */
export async function publishCommand(
  files: string[],
  opts: { key?: string } & JsonFlag,
  cmd: Command,
): Promise<void> {
  if (files.length === 0 && opts.key === undefined) {
    throw new UsageError("nothing to publish: name artifact files, or --key PUBFILE");
  }
  const plan = files.length === 0 ? [] : await planPublish(files);
  const pubKey = opts.key === undefined ? undefined : await readPublicKeyFile(opts.key);
  const client = await connect(cmd);
  const keyUpload = pubKey ? await publicKeyUpload(client, pubKey) : undefined;
  await publish(client, keyUpload ? [keyUpload, ...plan] : plan, opts);
  if (pubKey && keyUpload && !opts.json) {
    const product = keyUpload.name.slice(0, -".pub".length);
    print(
      `public key ${pubKey.keyId} published as ${client.serverText}/artifacts/${keyUpload.name}: \`upkeep tools login --server ${client.serverText} --product ${product}\` trusts it on first use`,
    );
  }
}

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Decides what to upload, in order: each artifact with its `.sha256` and `.minisig`, then the release
 * manifests (given, or found beside the files) with their `.minisig`, last so that a manifest never names
 * an artifact that is not there yet. Every local `.sha256` is checked here, before anything is sent.
 */
async function planPublish(files: string[]): Promise<Upload[]> {
  for (const f of files) {
    if (!isFile(f)) throw new UsageError(`${f}: no such file (or not a regular file)`);
  }
  const uploads: Upload[] = [];
  for (const path of uploadOrder(files)) {
    const name = basename(path);
    if (!isStoredName(name)) {
      throw new UsageError(`${path}: ${JSON.stringify(name)} cannot be an artifact name`, {
        hint: "use letters, digits, '.', '_', '+', '-' only",
      });
    }
    const size = statSync(path).size;
    if (size === 0)
      throw new UsageError(`${path} is empty: nothing to publish`, { hint: "nothing was uploaded" });
    uploads.push({ path, name, sha256: await sha256File(path), size });
  }
  // Check every artifact against the .sha256 beside it, before the first byte goes out.
  for (const u of uploads) await checkSha256File(u);
  return uploads;
}

/** The absolute paths to upload: artifacts, then manifests, each followed by its sidecars. */
function uploadOrder(files: string[]): string[] {
  const given = new Set(files.map((f) => resolve(f)));
  const artifacts: string[] = [];
  const manifests: string[] = [];
  const seen = new Set<string>();
  const add = (list: string[], p: string) => {
    const abs = resolve(p);
    if (!seen.has(abs)) {
      seen.add(abs);
      list.push(abs);
    }
  };
  for (const f of files) {
    const abs = resolve(f);
    const sidecar = SIDECARS.find((s) => abs.endsWith(s));
    // A sidecar whose file is also given goes up with that file.
    if (sidecar && given.has(abs.slice(0, -sidecar.length))) continue;
    if (abs.endsWith(MANIFEST_SUFFIX)) add(manifests, abs);
    else add(artifacts, abs);
  }
  for (const dir of new Set(files.map((f) => dirname(resolve(f))))) {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.endsWith(MANIFEST_SUFFIX) && isFile(resolve(dir, entry))) add(manifests, resolve(dir, entry));
    }
  }

  const ordered: string[] = [];
  for (const p of [...artifacts, ...manifests]) {
    ordered.push(p);
    if (SIDECARS.some((s) => p.endsWith(s))) continue;
    for (const s of SIDECARS) if (isFile(p + s) && !ordered.includes(p + s)) ordered.push(p + s);
  }
  return ordered;
}

/**
 * An artifact against the `.sha256` beside it, if there is one: E_MALFORMED when it is not one line
 * `<sha256>  NAME` for this file, E_CHECKSUM naming both when the bytes differ.
 */
async function checkSha256File(u: Upload): Promise<void> {
  if (u.name.endsWith(".sha256") || u.name.endsWith(".minisig")) return;
  const sumFile = `${u.path}.sha256`;
  if (!isFile(sumFile)) return;
  let expected: string;
  try {
    expected = parseChecksumFile(await Bun.file(sumFile).text(), u.name, sumFile);
  } catch (e) {
    if (!isUpkeepError(e)) throw ioError("read", sumFile, e);
    throw new UpkeepError(e.code, e.message, {
      cause: e,
      hint: `nothing was uploaded; regenerate it beside the file: sha256sum ${u.name} > ${u.name}.sha256`,
    });
  }
  if (expected !== u.sha256) {
    throw new UpkeepError(
      "E_CHECKSUM",
      `${u.path} does not match ${sumFile}: sha256 is ${u.sha256}, the file says ${expected}`,
      { hint: "nothing was uploaded; rebuild or re-download the artifact, or regenerate its .sha256" },
    );
  }
}

async function publish(client: ApiClient, uploads: Upload[], opts: JsonFlag): Promise<void> {
  const done: (ArtifactView & { file: string })[] = [];
  for (const u of uploads) {
    let stored: ArtifactView;
    try {
      stored = await client.uploadArtifact(u.name, u.path);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // Name the file and say what is already on the server.
      throw new UpkeepError(e.code, `${u.path}: ${e.message}`, {
        cause: e,
        exitCode: e.exitCode,
        hint: `${e.hint ? `${e.hint}; ` : ""}${
          done.length === 0
            ? "nothing was uploaded"
            : `already uploaded: ${done.map((d) => d.name).join(", ")} (publishing again is safe)`
        }`,
      });
    }
    if (stored.sha256 !== u.sha256 || stored.size !== u.size) {
      throw new UpkeepError(
        "E_CHECKSUM",
        `${u.name}: the server stored ${stored.size} bytes with sha256 ${stored.sha256}, but the local file has ${u.size} bytes with sha256 ${u.sha256}`,
        { hint: "was the file changed during the upload? publish it again" },
      );
    }
    done.push({ file: u.path, name: stored.name, size: stored.size, sha256: stored.sha256 });
    if (!opts.json) print(`uploaded ${stored.name} (${stored.size} bytes, sha256 ${stored.sha256})`);
  }
  if (opts.json) print(JSON.stringify({ server: client.serverText, uploaded: done }, null, 2));
}

// ---- publish --key: the release public key, where `tools login` looks for it ----

/** A minisign public key file (refused unless it parses as one: never a secret key by mistake). */
async function readPublicKeyFile(path: string): Promise<{ path: string; keyId: string }> {
  if (!isFile(path))
    throw new UsageError(`--key ${path}: no such file (the public key file, e.g. keys/NAME.pub)`);
  const [pk] = await loadTrustedKeys([path]);
  return { path, keyId: keyIdHex((pk as { keyId: Uint8Array }).keyId) };
}

/** The upload of the public key as `<product>.pub`, the server's product (`tools login` fetches that name). */
async function publicKeyUpload(client: ApiClient, key: { path: string; keyId: string }): Promise<Upload> {
  const { product } = await client.getServer();
  return {
    path: key.path,
    name: `${product}.pub`,
    sha256: await sha256File(key.path),
    size: statSync(key.path).size,
  };
}
