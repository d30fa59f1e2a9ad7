/**
 * What agent, tools and serve call before trusting release files: core/trust's decisions wired to the file
 * system. Both answer `{ ok: true, ... }` or `{ ok: false, code, reason }`.
 *
 * ```ts
 * const keys = await loadTrustedKeys(config.trustedKeys);
 * const m = await verifyManifestFile({ path, trustedKeys: keys, product, now: new Date(), lastSerial });
 * if (!m.ok) return refuse(m.code, m.reason);
 * saveLastSerial(m.manifest.serial);
 * const a = await verifyArtifactFile({ path: tarball, signaturePath: `${tarball}.minisig`, trustedKeys: keys,
 *   manifest: m.manifest, expectedName: name, now: new Date() });
 * ```
 */

import { MAX_MANIFEST_BYTES } from "../trust/manifest.ts";
import { MAX_SIGNATURE_FILE_BYTES } from "../trust/minisign.ts";
import {
  type ArtifactVerdict,
  type ManifestVerdict,
  refusal,
  type VerifyArtifactInput,
  type VerifyManifestInput,
  verifyArtifact,
  verifyManifest,
} from "../trust/verify_release.ts";
import { readCapped, readTextCapped } from "./files.ts";
import { digestFile, fileSize } from "./hash.ts";

export { loadTrustedKeys } from "./keys.ts";

export type VerifyManifestFileInput = Omit<VerifyManifestInput, "bytes" | "signature"> & {
  /** The manifest file. */
  path: string;
  /** Its signature; default `${path}.minisig`. */
  signaturePath?: string;
};

/** Verifies a manifest file and its `.minisig`; unreadable files are refusals with code E_IO. */
export async function verifyManifestFile(input: VerifyManifestFileInput): Promise<ManifestVerdict> {
  try {
    const bytes = await readCapped(input.path, MAX_MANIFEST_BYTES, "manifest");
    const signature = await readTextCapped(
      input.signaturePath ?? `${input.path}.minisig`,
      MAX_SIGNATURE_FILE_BYTES,
      "signature",
    );
    return await verifyManifest({ ...input, bytes, signature });
  } catch (e) {
    return refusal(e);
  }
}

export type VerifyArtifactFileInput = Omit<VerifyArtifactInput, "signature"> & {
  /** The signature text, or where to read it (default `${path}.minisig`). */
  signature?: string;
  signaturePath?: string;
};

/** Verifies a downloaded artifact against its signature and a verified manifest (see verifyArtifact). */
export async function verifyArtifactFile(input: VerifyArtifactFileInput): Promise<ArtifactVerdict> {
  try {
    const signature =
      input.signature ??
      (await readTextCapped(
        input.signaturePath ?? `${input.path}.minisig`,
        MAX_SIGNATURE_FILE_BYTES,
        "signature",
      ));
    return await verifyArtifact({ ...input, signature }, { size: fileSize, digest: digestFile });
  } catch (e) {
    return refusal(e);
  }
}
