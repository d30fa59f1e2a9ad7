/**
 * One updater at a time per namespace: `update.lock`. The lock is an advisory `flock(2)` on the file (the
 * kernel drops it when the holder dies, so a lock left by a dead process is taken over at once); the file
 * holds the holder's pid and command for the message a waiting process prints. Where flock is not
 * reachable (no libc to load), an exclusive-create pid file is used, and a file naming a dead pid is taken
 * over.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { UpkeepError } from "../errors.ts";
import { errorCodeOf, ioError } from "./io_error.ts";
import { openLibc } from "./libc.ts";

export interface LockOptions {
  /** How long to wait for another holder (ms). 0: fail at once. */
  waitMs: number;
  /** What this holder does, written into the file ("agent update", "agent run"). */
  what: string;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: (holder: string) => void;
  /** Who else may hold it and what to do, for the refusal (default: another upkeep agent). */
  busy?: { who: string; hint: string };
}

export interface Lock {
  release(): void;
}

type FlockFn = (fd: number, op: number) => number;
let flockFn: FlockFn | null | undefined;

async function loadFlock(): Promise<FlockFn | null> {
  if (flockFn !== undefined) return flockFn;
  const { FFIType } = await import("bun:ffi").catch(() => ({ FFIType: undefined }));
  const lib = FFIType
    ? await openLibc({ flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } })
    : null;
  flockFn = lib ? (fd, op) => lib.symbols.flock(fd, op) as number : null;
  return flockFn;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

function holderOf(path: string): string {
  try {
    const text = readFileSync(path, "utf8").trim();
    return text ? text.split("\n").slice(0, 2).join(", ") : "another process";
  } catch {
    return "another process";
  }
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCodeOf(e) === "EPERM";
  }
}

function busy(path: string, holder: string, waitedMs: number, who?: LockOptions["busy"]): UpkeepError {
  return new UpkeepError(
    "E_LOCKED",
    `${who?.who ?? "another upkeep agent"} holds ${path} (${holder})${waitedMs > 0 ? `; waited ${Math.round(waitedMs / 1000)}s` : ""}`,
    {
      hint:
        who?.hint ??
        "wait for it to finish (an update takes a minute or so), or stop it; a lock left by a dead process is taken over automatically",
    },
  );
}

/** Takes the namespace lock, waiting up to `waitMs`. Throws E_LOCKED naming the holder. */
export async function acquireLock(path: string, opts: LockOptions): Promise<Lock> {
  const flock = await loadFlock();
  const started = Date.now();
  let told = false;
  const content = `pid ${process.pid}\n${opts.what} since ${new Date().toISOString()}\n`;
  for (;;) {
    if (flock) {
      let fd: number;
      try {
        fd = openSync(path, "a+", 0o600);
      } catch (e) {
        throw ioError("open the lock file", path, e, { hint: "the directory must be writable by this user" });
      }
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) {
        ftruncateSync(fd, 0);
        writeSync(fd, content, 0);
        let released = false;
        return {
          release: () => {
            if (released) return;
            released = true;
            try {
              ftruncateSync(fd, 0);
            } catch {}
            flock(fd, LOCK_UN);
            closeSync(fd);
          },
        };
      }
      closeSync(fd);
    } else {
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, content, 0);
        closeSync(fd);
        return {
          release: () => {
            try {
              if (holderOf(path).startsWith(`pid ${process.pid},`)) unlinkSync(path);
            } catch {}
          },
        };
      } catch (e) {
        if (errorCodeOf(e) !== "EEXIST") throw e;
        const pid = Number(/^pid (\d+)/.exec(holderOf(path))?.[1] ?? "0");
        if (!pidAlive(pid)) {
          // Stale: move it aside (rename is atomic; of two racing takers only one moves this file).
          const aside = `${path}.stale-${process.pid}`;
          try {
            renameSync(path, aside);
            unlinkSync(aside);
          } catch {}
          continue;
        }
      }
    }
    const waited = Date.now() - started;
    if (waited >= opts.waitMs) throw busy(path, holderOf(path), waited, opts.busy);
    if (!told) {
      told = true;
      opts.onWait?.(holderOf(path));
    }
    await Bun.sleep(Math.min(100, opts.waitMs - waited));
  }
}
