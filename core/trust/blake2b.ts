// biome-ignore-all lint/style/noNonNullAssertion: fixed-size typed arrays indexed by constants; checked by the tests.
/**
 * BLAKE2b (RFC 7693), unkeyed, 1..64 output bytes, in plain TypeScript on 32-bit halves.
 *
 * Used for small inputs in pure code: the 32-byte checksum inside minisign secret keys and the 64-byte
 * prehash of in-memory documents (a release manifest). Large files are hashed by `core/sys/hash.ts`,
 * natively and streaming.
 */

// IV as [low, high] 32-bit halves.
const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a, 0xade682d1,
  0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
].map((row) => row.map((i) => i * 2));

const v = new Uint32Array(32);
const m = new Uint32Array(32);

// v[a] += v[b] (64-bit, on halves)
function add(a: number, b: number): void {
  const lo = v[a]! + v[b]!;
  v[a + 1] = v[a + 1]! + v[b + 1]! + (lo >= 0x100000000 ? 1 : 0);
  v[a] = lo;
}

// v[a] += m[i]
function addM(a: number, i: number): void {
  const lo = v[a]! + m[i]!;
  v[a + 1] = v[a + 1]! + m[i + 1]! + (lo >= 0x100000000 ? 1 : 0);
  v[a] = lo;
}

// v[d] = rotr64(v[d] ^ v[a], r)
function xorRot(d: number, a: number, r: number): void {
  const lo = v[d]! ^ v[a]!;
  const hi = v[d + 1]! ^ v[a + 1]!;
  if (r === 32) {
    v[d] = hi;
    v[d + 1] = lo;
  } else if (r < 32) {
    v[d] = (lo >>> r) | (hi << (32 - r));
    v[d + 1] = (hi >>> r) | (lo << (32 - r));
  } else {
    // r = 63: rotate left by one
    v[d] = (hi >>> 31) | (lo << 1);
    v[d + 1] = (lo >>> 31) | (hi << 1);
  }
}

function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  add(a, b);
  addM(a, x);
  xorRot(d, a, 32);
  add(c, d);
  xorRot(b, c, 24);
  add(a, b);
  addM(a, y);
  xorRot(d, a, 16);
  add(c, d);
  xorRot(b, c, 63);
}

/** An incremental BLAKE2b hasher. Not reusable after `digest()`. */
export class Blake2b {
  readonly outLen: number;
  readonly #h = new Uint32Array(16);
  readonly #buf = new Uint8Array(128);
  #bufLen = 0;
  // Byte counter, exact up to 2^53.
  #t = 0;
  #done = false;

  constructor(outLen = 64) {
    if (!Number.isInteger(outLen) || outLen < 1 || outLen > 64)
      throw new RangeError("BLAKE2b output is 1..64 bytes");
    this.outLen = outLen;
    this.#h.set(IV);
    this.#h[0] = this.#h[0]! ^ 0x01010000 ^ outLen;
  }

  update(data: Uint8Array): this {
    if (this.#done) throw new Error("BLAKE2b: digest() already called");
    let i = 0;
    while (i < data.length) {
      // The final block is only known at digest(): compress a full buffer when more data arrives.
      if (this.#bufLen === 128) {
        this.#t += 128;
        this.#compress(false);
        this.#bufLen = 0;
      }
      const n = Math.min(128 - this.#bufLen, data.length - i);
      this.#buf.set(data.subarray(i, i + n), this.#bufLen);
      this.#bufLen += n;
      i += n;
    }
    return this;
  }

  digest(): Uint8Array {
    if (this.#done) throw new Error("BLAKE2b: digest() already called");
    this.#done = true;
    this.#t += this.#bufLen;
    this.#buf.fill(0, this.#bufLen);
    this.#compress(true);
    const out = new Uint8Array(this.outLen);
    for (let i = 0; i < this.outLen; i++) out[i] = this.#h[i >> 2]! >>> (8 * (i & 3));
    return out;
  }

  #compress(last: boolean): void {
    const h = this.#h;
    const b = this.#buf;
    for (let i = 0; i < 32; i++) {
      m[i] = b[i * 4]! | (b[i * 4 + 1]! << 8) | (b[i * 4 + 2]! << 16) | (b[i * 4 + 3]! << 24);
    }
    v.set(h);
    v.set(IV, 16);
    v[24] = v[24]! ^ (this.#t >>> 0);
    v[25] = v[25]! ^ Math.floor(this.#t / 0x100000000);
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    for (const s of SIGMA) {
      g(0, 8, 16, 24, s[0]!, s[1]!);
      g(2, 10, 18, 26, s[2]!, s[3]!);
      g(4, 12, 20, 28, s[4]!, s[5]!);
      g(6, 14, 22, 30, s[6]!, s[7]!);
      g(0, 10, 20, 30, s[8]!, s[9]!);
      g(2, 12, 22, 24, s[10]!, s[11]!);
      g(4, 14, 16, 26, s[12]!, s[13]!);
      g(6, 8, 18, 28, s[14]!, s[15]!);
    }
    for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 16]!;
  }
}

/** BLAKE2b of `data` in one call (`outLen` bytes, default 64). */
export function blake2b(data: Uint8Array, outLen = 64): Uint8Array {
  return new Blake2b(outLen).update(data).digest();
}
