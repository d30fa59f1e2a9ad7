/**
 * Whether this process is in the foreground process group of its controlling terminal, i.e. whether a
 * Ctrl-C typed there reaches it (and every process of its group) straight from the terminal. Asked only when
 * a signal arrives, so the shim's start-up never loads bun:ffi. undefined when it cannot be told.
 */
import { openLibc } from "./libc.ts";

const O_RDONLY = 0;
const O_NOCTTY = process.platform === "darwin" ? 0x20000 : 0o400;

type Tty = { getpgrp(): number; tcgetpgrp(fd: number): number; openTty(): number; close(fd: number): void };
let loading: Promise<Tty | null> | undefined;

/** One load for every caller, also for signals that arrive while it is under way. */
function load(): Promise<Tty | null> {
  loading ??= loadOnce();
  return loading;
}

async function loadOnce(): Promise<Tty | null> {
  const ffi = await import("bun:ffi").catch(() => null);
  if (!ffi) return null;
  const { FFIType, ptr } = ffi;
  const lib = await openLibc({
    getpgrp: { args: [], returns: FFIType.i32 },
    tcgetpgrp: { args: [FFIType.i32], returns: FFIType.i32 },
    open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  if (!lib) return null;
  const devTty = Buffer.from("/dev/tty\0");
  return {
    getpgrp: () => lib.symbols.getpgrp() as number,
    tcgetpgrp: (fd) => lib.symbols.tcgetpgrp(fd) as number,
    openTty: () => lib.symbols.open(ptr(devTty), O_RDONLY | O_NOCTTY) as number,
    close: (fd) => void lib.symbols.close(fd),
  };
}

export async function inForeground(): Promise<boolean | undefined> {
  const t = await load();
  if (!t) return undefined;
  const fd = t.openTty();
  if (fd < 0) return false; // no controlling terminal: nothing was typed to us
  try {
    const fg = t.tcgetpgrp(fd);
    return fg >= 0 ? fg === t.getpgrp() : undefined;
  } finally {
    t.close(fd);
  }
}
