/**
 * The `systemd` backend: units are written by `enable`, a restart is `systemctl daemon-reload` then
 * `systemctl restart <daemon>.service` (which also starts an inactive or failed unit), health comes from
 * `systemctl show` (MainPID, NRestarts).
 * systemctl is behind the `Systemctl` interface; `UPKEEP_SYSTEMCTL` names another executable (tests use a
 * recording fake: systemd cannot run on the test machines).
 */
import { mkdir, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isOurUnit, type UnitFile } from "../../agent/systemd.ts";
import { UpkeepError } from "../../errors.ts";
import { errorCodeOf, ioError } from "../io_error.ts";
import type { DaemonSample, ServiceBackend } from "./service.ts";

export interface SystemctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Systemctl {
  run(args: string[]): Promise<SystemctlResult>;
}

export class ExecSystemctl implements Systemctl {
  constructor(private readonly exe = process.env.UPKEEP_SYSTEMCTL || "systemctl") {}
  async run(args: string[]): Promise<SystemctlResult> {
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      proc = Bun.spawn([this.exe, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    } catch (e) {
      throw new UpkeepError("E_IO", `cannot run ${this.exe}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: "the systemd service backend needs systemctl; use --service supervise on hosts without systemd",
      });
    }
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout as ReadableStream).text(),
      new Response(proc.stderr as ReadableStream).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  }
}

async function must(ctl: Systemctl, args: string[]): Promise<SystemctlResult> {
  const r = await ctl.run(args);
  if (r.code !== 0)
    throw new UpkeepError(
      "E_IO",
      `systemctl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`,
    );
  return r;
}

export class SystemdBackend implements ServiceBackend {
  readonly kind = "systemd" as const;
  readonly manages = true;
  #base = 0;
  constructor(
    private readonly ctl: Systemctl,
    private readonly unit: string,
  ) {}

  async restart(): Promise<void> {
    await must(this.ctl, ["daemon-reload"]);
    // `restart`, not `try-restart`: the latter does nothing to an inactive or failed unit, so the daemon
    // would never run the new version (an update of an unhealthy daemon would always roll back).
    await must(this.ctl, ["restart", this.unit]);
    // systemd resets NRestarts on a manual (re)start: the baseline is read after it, not before.
    this.#base = (await this.#show()).restarts;
  }

  async #show(): Promise<{ pid: number; restarts: number; active: boolean }> {
    const r = await this.ctl.run(["show", this.unit, "--property=MainPID,NRestarts,ActiveState"]);
    const props = new Map<string, string>();
    for (const line of r.stdout.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) props.set(line.slice(0, i), line.slice(i + 1).trim());
    }
    const active = props.get("ActiveState") === "active";
    const pid = Number(props.get("MainPID") ?? "0");
    return {
      pid: active && Number.isInteger(pid) ? pid : 0,
      restarts: Number(props.get("NRestarts") ?? "0") || 0,
      active,
    };
  }

  async sample(): Promise<DaemonSample> {
    const s = await this.#show();
    return { pid: s.pid, restarts: Math.max(0, s.restarts - this.#base) };
  }

  async healthyNow(): Promise<boolean | undefined> {
    const s = await this.#show();
    return s.active && s.pid !== 0;
  }
}

/** Writes unit files under `dir`, each atomically (temp file, then rename). */
export async function writeUnits(dir: string, units: readonly UnitFile[]): Promise<string[]> {
  const written: string[] = [];
  const { writeFileAtomic } = await import("../files.ts");
  for (const u of units) {
    const path = join(dir, u.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, u.text, { mode: 0o644, overwrite: true });
    written.push(path);
  }
  return written;
}

/** Removes unit files (and an emptied drop-in folder); returns the paths that were there. */
export async function removeUnits(dir: string, paths: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const p of paths) {
    const path = join(dir, p);
    if (await Bun.file(path).exists()) removed.push(path);
    await rm(path, { force: true });
    if (p.includes(".d/")) await rmdir(dirname(path)).catch(() => {});
  }
  return removed;
}

export { must as systemctlMust };

/** Who owns the unit file at `path`: upkeep (`enable` wrote it, isOurUnit), the operator, or none (no file). */
export async function unitOwner(path: string): Promise<"upkeep" | "operator" | "none"> {
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (e) {
    if (errorCodeOf(e) === "ENOENT") return "none";
    throw ioError("read", path, e);
  }
  return isOurUnit(text) ? "upkeep" : "operator";
}
