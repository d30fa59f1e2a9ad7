/**
 * The C library through bun:ffi, for the few calls Bun does not expose (flock, the terminal's foreground
 * process group). Loaded on first use only; answers null where there is no FFI or no libc to load, and
 * callers then fall back to a behaviour that needs none.
 */
import type { FFIFunction } from "bun:ffi";

const NAMES =
  process.platform === "darwin"
    ? ["libSystem.B.dylib"]
    : ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

/** Opens libc with `symbols`, or null. */
export async function openLibc<const S extends Record<string, FFIFunction>>(
  symbols: S,
): Promise<{ symbols: { [K in keyof S]: (...args: unknown[]) => unknown } } | null> {
  try {
    const { dlopen } = await import("bun:ffi");
    for (const name of NAMES) {
      try {
        return dlopen(name, symbols) as unknown as {
          symbols: { [K in keyof S]: (...args: unknown[]) => unknown };
        };
      } catch {
        // try the next name
      }
    }
  } catch {
    // no FFI
  }
  return null;
}
