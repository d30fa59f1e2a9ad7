/**
 * Repeatable filler bytes for delta tests and the delta benchmark (core/sys/delta/delta.test.ts,
 * test/delta.test.ts, test/delta_self.test.ts, scripts/bench/delta.ts).
 */

/** Pseudo-random but repeatable bytes (xorshift32 from `seed`): a stand-in for an executable, does not compress. */
export function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
