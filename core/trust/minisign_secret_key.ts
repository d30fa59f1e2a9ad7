/**
 * minisign secret key files: parsing, opening (decrypting with a scrypt keystream), formatting, libsodium's
 * scrypt parameters, and new key pairs. Pure (the scrypt itself runs in core/sys/keys.ts).
 */
import { UpkeepError } from "../errors.ts";
import {
  ALG_ED,
  CHK_BLAKE2B,
  KDF_NONE,
  KDF_SCRYPT,
  KEY_ID_BYTES,
  lines,
  MAX_KEY_FILE_BYTES,
  type PublicKey,
  SEALED_BYTES,
  SECRET_KEY_BYTES,
  type SecretKey,
  sameBytes,
  UNTRUSTED_PREFIX,
} from "./_minisign.ts";
import { blake2b } from "./blake2b.ts";
import * as ed from "./ed25519.ts";
import { concat, decodeBase64, encodeBase64, equalBytes, readLe64, writeLe64 } from "./encoding.ts";

export interface SecretKeyFile {
  kdf: "scrypt" | "none";
  salt: Uint8Array;
  opslimit: bigint;
  memlimit: bigint;
  /** Key id, secret key and checksum; encrypted when `kdf` is "scrypt". */
  sealed: Uint8Array;
}

export function parseSecretKeyFile(text: string): SecretKeyFile {
  const ls = lines(text, "secret key", MAX_KEY_FILE_BYTES);
  if (ls.length !== 2 || !ls[0]?.startsWith(UNTRUSTED_PREFIX)) {
    throw new UpkeepError("E_KEY", "secret key: expected an `untrusted comment:` line and a base64 line");
  }
  let raw: Uint8Array;
  try {
    raw = decodeBase64(ls[1]?.trim() ?? "", SECRET_KEY_BYTES, "secret key");
  } catch (e) {
    throw new UpkeepError("E_KEY", e instanceof Error ? e.message : "secret key: bad base64");
  }
  if (!sameBytes(raw, 0, ALG_ED))
    throw new UpkeepError("E_KEY", "secret key: unsupported signature algorithm");
  if (!sameBytes(raw, 4, CHK_BLAKE2B))
    throw new UpkeepError("E_KEY", "secret key: unsupported checksum algorithm");
  let kdf: SecretKeyFile["kdf"];
  if (sameBytes(raw, 2, KDF_SCRYPT)) kdf = "scrypt";
  else if (sameBytes(raw, 2, KDF_NONE)) kdf = "none";
  else throw new UpkeepError("E_KEY", "secret key: unsupported key derivation function");
  return {
    kdf,
    salt: raw.slice(6, 38),
    opslimit: readLe64(raw, 38),
    memlimit: readLe64(raw, 46),
    sealed: raw.slice(54),
  };
}

function checksum(keyId: Uint8Array, sk: Uint8Array): Uint8Array {
  return blake2b(concat(new Uint8Array(ALG_ED), keyId, sk), 32);
}

/**
 * Opens a parsed secret key; `keystream` (SEALED_BYTES of scrypt output) is required when it is
 * encrypted. A wrong password shows as a checksum mismatch (E_KEY).
 */
export async function openSecretKey(file: SecretKeyFile, keystream?: Uint8Array): Promise<SecretKey> {
  const body = file.sealed.slice();
  if (file.kdf === "scrypt") {
    if (!keystream || keystream.length !== SEALED_BYTES) {
      throw new UpkeepError("E_INTERNAL", "an encrypted secret key needs its keystream");
    }
    for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (keystream[i] ?? 0);
  }
  const keyId = body.slice(0, 8);
  const sk = body.slice(8, 72);
  const stored = body.slice(72, 104);
  const expected = checksum(keyId, sk);
  // minisign -G -W leaves the checksum of an unencrypted key zeroed; accept that, or the right one.
  const unencryptedZero = file.kdf === "none" && stored.every((b) => b === 0);
  if (!unencryptedZero && !equalBytes(stored, expected)) {
    throw new UpkeepError(
      "E_KEY",
      file.kdf === "scrypt"
        ? "wrong password for that secret key"
        : "secret key: checksum mismatch (corrupted)",
    );
  }
  const seed = sk.slice(0, 32);
  const publicKey = sk.slice(32, 64);
  if (!equalBytes(await ed.publicKeyOf(seed), publicKey)) {
    throw new UpkeepError("E_KEY", "secret key: its public half does not match its seed (corrupted)");
  }
  return { keyId, seed, publicKey };
}

export interface Encryption {
  salt: Uint8Array;
  opslimit: bigint;
  memlimit: bigint;
  /** scrypt(password, salt, params of opslimit/memlimit), SEALED_BYTES long. */
  keystream: Uint8Array;
}

/** A secret key file; encrypted when `enc` is given, else unencrypted (kdf 0000, like `minisign -W`). */
export function formatSecretKey(sk: SecretKey, enc?: Encryption): string {
  const raw = new Uint8Array(SECRET_KEY_BYTES);
  raw.set(ALG_ED, 0);
  raw.set(enc ? KDF_SCRYPT : KDF_NONE, 2);
  raw.set(CHK_BLAKE2B, 4);
  const full = concat(sk.seed, sk.publicKey);
  const body = concat(sk.keyId, full, checksum(sk.keyId, full));
  if (enc) {
    if (enc.salt.length !== 32 || enc.keystream.length !== SEALED_BYTES) {
      throw new UpkeepError("E_INTERNAL", "bad secret key encryption parameters");
    }
    raw.set(enc.salt, 6);
    writeLe64(raw, 38, enc.opslimit);
    writeLe64(raw, 46, enc.memlimit);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (enc.keystream[i] ?? 0);
  }
  raw.set(body, 54);
  const comment = enc ? "minisign encrypted secret key" : "minisign unencrypted secret key";
  return `${UNTRUSTED_PREFIX}${comment}\n${encodeBase64(raw)}\n`;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Largest scrypt work accepted from a key file (128·N·r·p bytes): 4x minisign's default. */
const MAX_SCRYPT_WORK = 4n * 1024n * 1024n * 1024n;

/**
 * libsodium's `pickparams`: the scrypt N, r, p that crypto_pwhash_scryptsalsa208sha256 derives from
 * opslimit and memlimit. Refuses parameters that would take more than 4x minisign's default work.
 */
export function scryptParams(opslimitIn: bigint, memlimit: bigint): ScryptParams {
  const opslimit = opslimitIn < 32768n ? 32768n : opslimitIn;
  const r = 8n;
  let nLog2 = 1n;
  let p: bigint;
  if (opslimit < memlimit / 32n) {
    p = 1n;
    const maxN = opslimit / (r * 4n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
  } else {
    const maxN = memlimit / (r * 128n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
    let maxrp = opslimit / 4n / (1n << nLog2);
    if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
    p = maxrp / r;
  }
  const N = 1n << nLog2;
  if (p < 1n || 128n * N * r * p > MAX_SCRYPT_WORK || 128n * N * r > MAX_SCRYPT_WORK / 2n) {
    throw new UpkeepError("E_KEY", "secret key: unsupported key derivation parameters");
  }
  return { N: Number(N), r: Number(r), p: Number(p) };
}

/** A new key pair (random key id and seed). */
export async function generateKeyPair(): Promise<{ secretKey: SecretKey; publicKey: PublicKey }> {
  const keyId = ed.randomBytes(KEY_ID_BYTES);
  const seed = ed.randomBytes(32);
  const pub = await ed.publicKeyOf(seed);
  return {
    secretKey: { keyId, seed, publicKey: pub },
    publicKey: { keyId: keyId.slice(), key: pub.slice() },
  };
}

export function publicKeyOfSecret(sk: SecretKey): PublicKey {
  return { keyId: sk.keyId.slice(), key: sk.publicKey.slice() };
}
