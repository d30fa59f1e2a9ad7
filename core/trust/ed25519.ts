/**
 * Ed25519 through WebCrypto (`globalThis.crypto.subtle`): no I/O, so it stays in pure core.
 *
 * minisign stores libsodium's 64-byte secret key, seed || public key; WebCrypto imports the 32-byte seed as
 * PKCS#8.
 */
import { UpkeepError } from "../errors.ts";
import { concat } from "./encoding.ts";

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

const ED25519 = { name: "Ed25519" } as const;

async function importSeed(seed: Uint8Array, extractable: boolean): Promise<CryptoKey> {
  if (seed.length !== 32) throw new UpkeepError("E_KEY", "an Ed25519 seed is 32 bytes");
  return crypto.subtle.importKey(
    "pkcs8",
    concat(PKCS8_PREFIX, seed) as Uint8Array<ArrayBuffer>,
    ED25519,
    extractable,
    ["sign"],
  );
}

/** The public key of a seed. */
export async function publicKeyOf(seed: Uint8Array): Promise<Uint8Array> {
  const jwk = await crypto.subtle.exportKey("jwk", await importSeed(seed, true));
  if (typeof jwk.x !== "string")
    throw new UpkeepError("E_INTERNAL", "WebCrypto exported no Ed25519 public key");
  const b64 = jwk.x.replaceAll("-", "+").replaceAll("_", "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const key = await importSeed(seed, false);
  return new Uint8Array(await crypto.subtle.sign(ED25519, key, message as Uint8Array<ArrayBuffer>));
}

/** True when `signature` is a valid Ed25519 signature of `message` by `publicKey`; never throws on bad input. */
export async function verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey("raw", publicKey as Uint8Array<ArrayBuffer>, ED25519, false, [
      "verify",
    ]);
    return await crypto.subtle.verify(
      ED25519,
      key,
      signature as Uint8Array<ArrayBuffer>,
      message as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false;
  }
}

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
