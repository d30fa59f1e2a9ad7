/**
 * Writing a release of upkeep itself (DESIGN §9), as `upkeep release sign` and `upkeep release manifest
 * --product upkeep` would: each executable copied to `OUT/upkeep-v<version>-<os>-<arch>` with its `.minisig`,
 * and the signed `OUT/upkeep-releases.json` (+ `.minisig`) listing them. For tests (two stamped builds) and
 * `upkeep release self`.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatSelfArtifactName, SELF_PRODUCT } from "../../trust/artifact_name.ts";
import { buildManifest } from "../../trust/build_manifest.ts";
import { encodeUtf8 } from "../../trust/encoding.ts";
import { type Manifest, manifestFileName, serializeManifest } from "../../trust/manifest.ts";
import { type SecretKey, signBytes } from "../../trust/minisign.ts";
import { hashFile } from "../hash.ts";
import { loadSecretKey } from "../keys.ts";
import { signFile } from "../signing.ts";

export interface SelfExecutable {
  /** The executable to release (e.g. a build's dist/upkeep). */
  path: string;
  version: string;
  /** Default linux / amd64. */
  os?: string;
  arch?: string;
  /** Leave its `.minisig` out (tests of an unsigned updater). */
  unsigned?: boolean;
}

export interface SelfReleaseOptions {
  out: string;
  /** The secret key (a file, unencrypted or with UPKEEP_KEY_PASSWORD) or a loaded key. */
  key: string | SecretKey;
  executables: SelfExecutable[];
  serial: number;
  floor?: string;
  /** Manifest validity (ms, default 30 days). */
  expiresInMs?: number;
  now?: Date;
}

export interface SelfRelease {
  manifest: Manifest;
  manifestPath: string;
  /** Each executable's artifact path, in the order given. */
  artifacts: { version: string; name: string; path: string }[];
}

export async function writeSelfRelease(o: SelfReleaseOptions): Promise<SelfRelease> {
  const sk = typeof o.key === "string" ? await loadSecretKey(o.key) : o.key;
  const now = o.now ?? new Date();
  mkdirSync(o.out, { recursive: true });
  const artifacts: SelfRelease["artifacts"] = [];
  const facts: { name: string; size: number; sha256: string }[] = [];
  for (const e of o.executables) {
    const name = formatSelfArtifactName(e.version, e.os ?? "linux", e.arch ?? "amd64");
    const path = join(o.out, name);
    copyFileSync(e.path, path);
    chmodSync(path, 0o755);
    const h = await hashFile(path, ["sha256"]);
    facts.push({ name, size: h.size, sha256: h.sha256 ?? "" });
    if (!e.unsigned) writeFileSync(`${path}.minisig`, await signFile(path, sk, { now }));
    artifacts.push({ version: e.version, name, path });
  }
  const manifest = buildManifest({
    product: SELF_PRODUCT,
    serial: o.serial,
    issued: now,
    expires: new Date(now.getTime() + (o.expiresInMs ?? 30 * 86_400_000)),
    ...(o.floor === undefined ? {} : { floor: o.floor }),
    artifacts: facts,
  });
  const name = manifestFileName(SELF_PRODUCT);
  const bytes = encodeUtf8(serializeManifest(manifest));
  const manifestPath = join(o.out, name);
  writeFileSync(manifestPath, bytes);
  writeFileSync(`${manifestPath}.minisig`, await signBytes(sk, bytes, name, now.getTime() / 1000));
  return { manifest, manifestPath, artifacts };
}
