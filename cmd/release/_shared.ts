/** What the `upkeep release` commands share. */
import { isatty } from "node:tty";
import { UsageError } from "../../core/errors.ts";
import { fileSize } from "../../core/sys/hash.ts";
import { warn } from "../output.ts";

/** Each path must be a readable file: else a usage error (E_IO) naming it, before any work is done. */
export async function requireFiles(paths: string[]): Promise<void> {
  for (const p of paths) {
    try {
      await fileSize(p);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e), { code: "E_IO" });
    }
  }
}

/**
 * Opening an encrypted key pauses for seconds (scrypt, about 1 GiB): on a terminal, say so on stderr once the
 * password is known, as keygen does. Not on a terminal: nothing (scripts read stderr for errors).
 */
export function deriveNotice(): { onDerive: () => void } {
  return { onDerive: () => (isatty(2) ? warn("Deriving the key (scrypt) ...") : undefined) };
}
