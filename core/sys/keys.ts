/**
 * Key files: trusted public keys (file or bare base64), secret keys (unencrypted or scrypt-encrypted,
 * minisign's format), key pair generation.
 */
import { randomBytes, scrypt } from "node:crypto";
import { join } from "node:path";
import { UpkeepError, UsageError } from "../errors.ts";
import {
  type Encryption,
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  keyIdHex,
  MAX_KEY_FILE_BYTES,
  MEMLIMIT_SENSITIVE,
  OPSLIMIT_SENSITIVE,
  openSecretKey,
  type PublicKey,
  parsePublicKey,
  parseSecretKeyFile,
  SEALED_BYTES,
  type SecretKey,
  scryptParams,
} from "../trust/minisign.ts";
import { exists, readTextCapped, writeFileAtomic } from "./files.ts";
import { getPassword } from "./password.ts";

/** A bare minisign public key, as `minisign -P` takes it: base64 of "Ed" + 40 bytes. */
const BARE_KEY = /^RW[A-Za-z0-9+/]{54}$/;

/**
 * Loads trusted public keys; each spec is a public key file or the base64 key itself. A bad or unreadable
 * key is a usage error (exit 2) that names the spec.
 */
/** A key file's text, size-capped; a file that cannot be read is a usage error (E_KEY, exit 2). */
async function readKeyFile(path: string, what: "public key" | "secret key"): Promise<string> {
  try {
    return await readTextCapped(path, MAX_KEY_FILE_BYTES, what);
  } catch (e) {
    throw new UsageError(e instanceof UpkeepError ? e.message : `cannot read ${what} ${path}`, {
      code: "E_KEY",
      cause: e,
    });
  }
}

export async function loadTrustedKeys(specs: readonly string[]): Promise<PublicKey[]> {
  if (specs.length === 0) throw new UsageError("no trusted public key given", { code: "E_KEY" });
  const keys: PublicKey[] = [];
  for (const spec of specs) {
    const bare = BARE_KEY.test(spec.trim()) && !(await exists(spec));
    const text = bare ? spec.trim() : await readKeyFile(spec, "public key");
    try {
      keys.push(parsePublicKey(text));
    } catch (e) {
      const what = bare ? "the public key given" : spec;
      throw new UsageError(`${what}: ${e instanceof Error ? e.message : String(e)}`, { code: "E_KEY" });
    }
  }
  return keys;
}

/** scrypt keystream for a secret key, with minisign's parameters (libsodium's pickparams). */
export async function scryptKeystream(
  password: string,
  salt: Uint8Array,
  opslimit: bigint,
  memlimit: bigint,
): Promise<Uint8Array> {
  const { N, r, p } = scryptParams(opslimit, memlimit);
  const maxmem = 128 * N * r * (p + 1) + 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, "utf8"), salt, SEALED_BYTES, { N, r, p, maxmem }, (err, key) => {
      if (err) reject(new UpkeepError("E_KEY", `key derivation failed: ${err.message}`, { cause: err }));
      else resolve(new Uint8Array(key));
    });
  });
}

export interface LoadSecretKeyOptions {
  /** Supplies the password of an encrypted key; default: UPKEEP_KEY_PASSWORD or a terminal prompt. */
  password?: () => Promise<string>;
  /** Called once the password is known, before the slow key derivation (scrypt: seconds, ~1 GiB). */
  onDerive?: () => void;
}

/** Loads a minisign secret key file, decrypting it if needed. Problems are E_KEY (exit 2 if unreadable). */
export async function loadSecretKey(path: string, opts: LoadSecretKeyOptions = {}): Promise<SecretKey> {
  const text = await readKeyFile(path, "secret key");
  let file: ReturnType<typeof parseSecretKeyFile>;
  try {
    file = parseSecretKeyFile(text);
  } catch (e) {
    throw new UpkeepError("E_KEY", `${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (file.kdf === "none") return openSecretKey(file);
  const password = await (opts.password ?? (() => getPassword({ label: `secret key ${path}` })))();
  opts.onDerive?.();
  const keystream = await scryptKeystream(password, file.salt, file.opslimit, file.memlimit);
  return openSecretKey(file, keystream);
}

export interface KdfLimits {
  opslimit: bigint;
  memlimit: bigint;
}

/** minisign's defaults: about 1 GiB of memory and a few seconds. */
export const DEFAULT_KDF: KdfLimits = { opslimit: OPSLIMIT_SENSITIVE, memlimit: MEMLIMIT_SENSITIVE };

export async function encryptionFor(password: string, limits: KdfLimits = DEFAULT_KDF): Promise<Encryption> {
  const salt = new Uint8Array(randomBytes(32));
  const keystream = await scryptKeystream(password, salt, limits.opslimit, limits.memlimit);
  return { salt, opslimit: limits.opslimit, memlimit: limits.memlimit, keystream };
}

export interface KeygenOptions {
  /** Replace existing key files. */
  force?: boolean;
  /** Encrypt with this password; unencrypted when undefined. */
  password?: string;
  /** scrypt limits for the encryption (default: minisign's). */
  kdf?: KdfLimits;
  /**
   * The files' base name: `NAME.key` and `NAME.pub` (default `upkeep`). `release keygen --product NAME` names
   * them after the product: `NAME.pub` is what `tools login` fetches from the base URL.
   */
  name?: string;
}

export interface KeygenResult {
  secretKeyPath: string;
  publicKeyPath: string;
  publicKey: PublicKey;
  keyId: string;
}

export const SECRET_KEY_FILE = "upkeep.key";
export const PUBLIC_KEY_FILE = "upkeep.pub";

/**
 * Writes `dir/upkeep.key` (0600) and `dir/upkeep.pub` (or `NAME.key`, `NAME.pub`); refuses to replace either
 * without `force`.
 */
export async function writeKeyPair(dir: string, opts: KeygenOptions = {}): Promise<KeygenResult> {
  const secretKeyPath = join(dir, opts.name === undefined ? SECRET_KEY_FILE : `${opts.name}.key`);
  const publicKeyPath = join(dir, opts.name === undefined ? PUBLIC_KEY_FILE : `${opts.name}.pub`);
  if (!opts.force) {
    for (const p of [secretKeyPath, publicKeyPath]) {
      if (await exists(p))
        throw new UpkeepError("E_EXISTS", `${p} already exists`, { hint: "pass --force to replace it" });
    }
  }
  const { secretKey, publicKey } = await generateKeyPair();
  const enc = opts.password === undefined ? undefined : await encryptionFor(opts.password, opts.kdf);
  await writeFileAtomic(secretKeyPath, formatSecretKey(secretKey, enc), {
    mode: 0o600,
    overwrite: opts.force,
  });
  await writeFileAtomic(publicKeyPath, formatPublicKey(publicKey), { mode: 0o644, overwrite: opts.force });
  return { secretKeyPath, publicKeyPath, publicKey, keyId: keyIdHex(publicKey.keyId) };
}
