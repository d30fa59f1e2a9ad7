/**
 * Replacing this process with another executable in place (`execve(2)`: same PID, same children, same
 * stdio): the agent's hand-over to a new updater under supervise, so the daemon stays its child and keeps
 * running. Bun has no exec: libc's through bun:ffi. Every descriptor above stderr is marked close-on-exec
 * first (locks, sockets, the event loop's): the new image starts with stdin, stdout and stderr only.
 */
import { readdirSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";
import { openLibc } from "../libc.ts";

const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Runs `path` with `argv` (argv[0] included) and `env` in this process; returns only when that failed. */
export async function execInPlace(
  path: string,
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<never> {
  const { FFIType, ptr } = await import("bun:ffi");
  const lib = await openLibc({
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });
  if (!lib) throw new UpkeepError("E_IO", "cannot hand over in place: no libc to call execve through");
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (Number.isInteger(fd) && fd > 2) lib.symbols.fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  const keep: Buffer[] = [];
  const cstr = (s: string) => {
    const b = Buffer.from(`${s}\0`);
    keep.push(b);
    return b;
  };
  const list = (xs: string[]) => {
    const a = new BigUint64Array(xs.length + 1);
    xs.forEach((x, i) => {
      a[i] = BigInt(ptr(cstr(x)));
    });
    return a;
  };
  const envList = Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const argvArr = list(argv);
  const envArr = list(envList);
  lib.symbols.execve(ptr(cstr(path)), ptr(argvArr), ptr(envArr));
  throw new UpkeepError("E_IO", `cannot execute ${path} in place (execve failed)`, {
    hint: "the previous updater keeps running; check the file's mode and the filesystem (noexec?)",
  });
}

/** This process's arguments as the new image takes them (after the executable and, unbuilt, the script). */
export function ownArgs(): string[] {
  return process.argv.slice(2);
}
