/**
 * Optional fast BLAKE2b-512 from the system's libsodium (the library `minisign` itself uses), through
 * bun:ffi. Bun's built-in BLAKE2b is portable C and about 1.6x slower than libsodium's AVX2 code, which
 * matters for verifying large artifacts. Used only when the library is found in a system directory and
 * passes a self-test against the built-in hasher; otherwise, or with UPKEEP_LIBSODIUM=0, the built-in one
 * is used. Either way the result is the same bytes.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { existsSync } from "node:fs";

export interface StreamingHash {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

type Symbols = {
  sodium_init: () => number;
  crypto_generichash_statebytes: () => number | bigint;
  crypto_generichash_init: (state: number, key: null, keylen: number, outlen: number) => number;
  crypto_generichash_update: (state: number, data: number, len: number) => number;
  crypto_generichash_final: (state: number, out: number, outlen: number) => number;
};

const ARCH_DIRS: Record<string, string[]> = {
  x64: ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"],
  arm64: ["/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu"],
};

function candidates(): string[] {
  if (process.platform === "darwin")
    return ["/opt/homebrew/lib/libsodium.dylib", "/usr/local/lib/libsodium.dylib"];
  if (process.platform !== "linux") return [];
  const dirs = [...(ARCH_DIRS[process.arch] ?? []), "/usr/lib64", "/usr/lib", "/lib", "/usr/local/lib"];
  return dirs.flatMap((d) => ["23", "26"].map((v) => `${d}/libsodium.so.${v}`));
}

let loaded: Symbols | null | undefined;

function load(): Symbols | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.UPKEEP_LIBSODIUM === "0") return loaded;
  for (const path of candidates()) {
    if (!existsSync(path)) continue;
    try {
      const lib = dlopen(path, {
        sodium_init: { args: [], returns: FFIType.i32 },
        crypto_generichash_statebytes: { args: [], returns: FFIType.u64 },
        crypto_generichash_init: {
          args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.u64],
          returns: FFIType.i32,
        },
        crypto_generichash_update: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
        crypto_generichash_final: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
      });
      const symbols = lib.symbols as unknown as Symbols;
      // sodium_init picks the CPU-specific implementations: 0 = done now, 1 = already done.
      if (symbols.sodium_init() < 0) continue;
      if (Number(symbols.crypto_generichash_statebytes()) > STATE_BYTES) continue;
      if (!selfTest(symbols)) continue;
      loaded = symbols;
      return loaded;
    } catch {
      // Not loadable here (wrong architecture, missing symbol): try the next one, then fall back.
    }
  }
  return loaded;
}

const STATE_BYTES = 512;

class SodiumBlake2b implements StreamingHash {
  readonly #buf = new Uint8Array(STATE_BYTES + 64);
  readonly #state: number;
  readonly #lib: Symbols;

  constructor(lib: Symbols) {
    this.#lib = lib;
    // libsodium declares its state 64-byte aligned.
    const base = ptr(this.#buf);
    this.#state = ptr(this.#buf, (64 - (base % 64)) % 64);
    if (lib.crypto_generichash_init(this.#state, null, 0, 64) !== 0)
      throw new Error("crypto_generichash_init failed");
  }

  update(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.#lib.crypto_generichash_update(this.#state, ptr(data), data.length) !== 0) {
      throw new Error("crypto_generichash_update failed");
    }
  }

  digest(): Uint8Array {
    const out = new Uint8Array(64);
    if (this.#lib.crypto_generichash_final(this.#state, ptr(out), 64) !== 0) {
      throw new Error("crypto_generichash_final failed");
    }
    return out;
  }
}

function selfTest(lib: Symbols): boolean {
  const data = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 0xff);
  const h = new SodiumBlake2b(lib);
  h.update(data.subarray(0, 129));
  h.update(data.subarray(129));
  const ours = h.digest();
  const ref = new Bun.CryptoHasher("blake2b512").update(data).digest();
  return ours.length === ref.length && ours.every((b, i) => b === ref[i]);
}

/** A BLAKE2b-512 hasher backed by libsodium, or undefined when it is not available. */
export function sodiumBlake2b512(): StreamingHash | undefined {
  const lib = load();
  return lib ? new SodiumBlake2b(lib) : undefined;
}

/** Which BLAKE2b implementation large files go through (for --debug output and the benchmark). */
export function blake2bBackend(): "libsodium" | "builtin" {
  return load() ? "libsodium" : "builtin";
}
