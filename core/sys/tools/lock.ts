/**
 * A lock file (`O_EXCL` create, holding the owner's pid). A lock whose owner is dead is taken over.
 * `acquireLock` waits up to `timeoutMs` and then refuses with E_LOCKED naming the holder.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

export async function acquireLock(path: string, timeoutMs: number, what: string): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") {
        throw new UpkeepError("E_IO", `cannot create lock ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, "utf8").trim());
    } catch {
      // removed meanwhile: try again
      continue;
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      rmSync(path, { force: true }); // stale: its owner died (e.g. SIGKILL)
      continue;
    }
    if (Date.now() > deadline) {
      throw new UpkeepError("E_LOCKED", `${what} is busy: process ${holder} holds ${path}`, {
        hint: "wait for it to finish, or remove the lock file if that process is gone",
      });
    }
    await Bun.sleep(50);
  }
}
