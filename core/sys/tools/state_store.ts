/**
 * Writes `<tools-dir>/tools.json` (0600, atomic). Reading is in state_file.ts (hot path).
 *
 * Every writer goes through `updateToolsState`: a short lock on `tools.json.lock` (not the install lock, which
 * is held for a whole download), the file read again inside the lock, a mutation that changes only the fields
 * its caller owns, one atomic write. So a `tools pin` during a shim's refresh, or a login during a download,
 * is never undone by a writer that read the file earlier, and the manifest serial never goes down.
 */
import { mkdirSync, renameSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";
import type { ToolsState } from "../../tools/types.ts";
import { writeFileAtomic } from "../files.ts";
import { ioError } from "../io_error.ts";
import { acquireLock } from "../lock.ts";
import { statePath } from "./paths.ts";
import { readToolsState } from "./state_file.ts";

export { readToolsState } from "./state_file.ts";

/** Only for a state built from scratch; any change to an existing file goes through `updateToolsState`. */
export async function writeToolsState(dir: string, state: ToolsState): Promise<void> {
  await writeFileAtomic(statePath(dir), `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
    overwrite: true,
  });
}

export interface UpdateOptions {
  /**
   * The mutation may lower (or drop) `lastSerial`: only a login to another product or base URL (another
   * manifest). Otherwise the serial written is the higher of the file's and the mutation's.
   */
  resetSerial?: boolean;
  /**
   * A damaged tools.json is moved aside as `tools.json.bad-<time>` and the mutation starts from an empty
   * state; called with the new name (login). Otherwise a damaged file is refused (E_MALFORMED).
   */
  onDamaged?: (movedTo: string) => void;
  /** For the `.bad-<time>` name. */
  now?: Date;
}

/** How long a writer waits for another one (each holds the lock for one read and one small write). */
const LOCK_WAIT_MS = 30_000;

/**
 * Reads tools.json under `<dir>/tools.json.lock`, applies `mutate` to what is on disk now and writes the
 * result atomically (creating the directory, 0700, if needed). Answers the state written.
 */
export async function updateToolsState(
  dir: string,
  mutate: (current: ToolsState, exists: boolean) => ToolsState,
  opts: UpdateOptions = {},
): Promise<ToolsState> {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError("create", dir, e);
  }
  const lock = await acquireLock(`${statePath(dir)}.lock`, { waitMs: LOCK_WAIT_MS, what: "upkeep tools" });
  try {
    let read: { state: ToolsState; exists: boolean };
    try {
      read = readToolsState(dir);
    } catch (e) {
      if (!(e instanceof UpkeepError && e.code === "E_MALFORMED" && opts.onDamaged)) throw e;
      const stamp = (opts.now ?? new Date()).toISOString().replace(/[-:.]/g, "");
      const aside = `${statePath(dir)}.bad-${stamp}`;
      try {
        renameSync(statePath(dir), aside);
      } catch (err) {
        throw new UpkeepError("E_IO", `cannot move the damaged ${statePath(dir)} aside: ${String(err)}`, {
          cause: err,
        });
      }
      opts.onDamaged(aside);
      read = { state: { trustKeys: [], enrolled: false }, exists: false };
    }
    const onDisk = read.state.lastSerial;
    const next = mutate(read.state, read.exists);
    if (!opts.resetSerial && onDisk !== undefined) {
      next.lastSerial = Math.max(onDisk, next.lastSerial ?? onDisk);
    }
    await writeToolsState(dir, next);
    return next;
  } finally {
    lock.release();
  }
}
