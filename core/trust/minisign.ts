/**
 * minisign formats (public keys, secret keys, signatures) and signature checks. Byte-compatible with
 * minisign 0.11 and signify's minisign mode; checked against the real tool by test/release*.test.ts.
 *
 * - Public key: `untrusted comment: ...` + base64("Ed" | key id (8) | Ed25519 key (32)).
 * - Signature: `untrusted comment: ...` + base64("ED" | key id | sig over BLAKE2b-512(file)) +
 *   `trusted comment: <text>` + base64(sig over sig || text). "Ed" (legacy) signs the file itself.
 * - Secret key: base64("Ed" | kdf "Sc" or 0000 | "B2" | salt (32) | opslimit (8 LE) | memlimit (8 LE) |
 *   [key id (8) | seed || public key (64) | BLAKE2b-256 checksum (32)]), the bracket XORed with a scrypt
 *   keystream when encrypted.
 *
 * Everything here is pure. Every refusal is an UpkeepError with a code: E_MALFORMED (cannot be parsed),
 * E_KEY (no trusted key with that id, bad or undecryptable secret key), E_SIGNATURE (does not verify, or
 * verifies for another file, or legacy and not allowed).
 *
 * This module is the API: public keys are here, signatures in ./minisign_signature.ts and secret keys in
 * ./minisign_secret_key.ts (both re-exported), what they share in ./_minisign.ts.
 */
import {
  ALG_ED,
  keyIdHex,
  lines,
  MAX_KEY_FILE_BYTES,
  malformed,
  PUBLIC_KEY_BYTES,
  type PublicKey,
  sameBytes,
  UNTRUSTED_PREFIX,
} from "./_minisign.ts";
import { concat, decodeBase64, encodeBase64 } from "./encoding.ts";

export {
  KEY_ID_BYTES,
  keyIdHex,
  MAX_KEY_FILE_BYTES,
  MAX_SIGNATURE_FILE_BYTES,
  MAX_TRUSTED_COMMENT_BYTES,
  MAX_UNTRUSTED_COMMENT_LINE_BYTES,
  MEMLIMIT_SENSITIVE,
  OPSLIMIT_SENSITIVE,
  type PublicKey,
  SEALED_BYTES,
  type SecretKey,
} from "./_minisign.ts";
export * from "./minisign_secret_key.ts";
export * from "./minisign_signature.ts";

// --- public keys ------------------------------------------------------------------------------------

/** Parses a public key file (`untrusted comment:` line + base64) or the bare base64 (like `minisign -P`). */
export function parsePublicKey(text: string): PublicKey {
  const ls = lines(text, "public key", MAX_KEY_FILE_BYTES);
  let b64: string | undefined;
  if (ls.length === 1) b64 = ls[0]?.trim();
  else if (ls.length === 2 && ls[0]?.startsWith(UNTRUSTED_PREFIX)) b64 = ls[1]?.trim();
  if (b64 === undefined) {
    throw malformed(
      "public key: expected an `untrusted comment:` line and a base64 line, or the base64 alone",
    );
  }
  const raw = decodeBase64(b64, PUBLIC_KEY_BYTES, "public key");
  if (!sameBytes(raw, 0, ALG_ED))
    throw malformed("public key: unsupported signature algorithm (not Ed25519)");
  return { keyId: raw.slice(2, 10), key: raw.slice(10, 42) };
}

/** The base64 form (what `minisign -P` takes). */
export function encodePublicKey(pk: PublicKey): string {
  return encodeBase64(concat(new Uint8Array(ALG_ED), pk.keyId, pk.key));
}

/** A public key file, as `minisign -G` writes it. */
export function formatPublicKey(pk: PublicKey): string {
  return `${UNTRUSTED_PREFIX}minisign public key ${keyIdHex(pk.keyId)}\n${encodePublicKey(pk)}\n`;
}
