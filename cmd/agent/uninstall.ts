/** `upkeep agent uninstall`: stops a running loop (with --force), then removes units, links and the namespace. */
import type { Command } from "commander";
import { durationFlag, logSync, type Where, where } from "./common.ts";

type UninstallOptions = Where & { force?: boolean; json?: boolean; lockWait: string };

export function registerUninstall(agent: Command): void {
  where(agent.command("uninstall"))
    .description("stop the agent and the daemon, remove units, links and the namespace folder")
    .option("--force", "also when an agent run loop is running or update.yaml is unreadable")
    .option("--lock-wait <duration>", "how long to wait for another updater of this namespace", "60s")
    .option("--json", "print what was removed as JSON")
    .action(uninstall);
}

async function uninstall(o: UninstallOptions): Promise<void> {
  const { layout } = await import("../../core/sys/agent/layout.ts");
  const { readState } = await import("../../core/sys/agent/state_store.ts");
  const { opUninstall } = await import("../../core/sys/agent/ops.ts");
  const { UpkeepError } = await import("../../core/errors.ts");
  const { existsSync } = await import("node:fs");
  const l = layout(o.installDir, o.namespace);
  if (!existsSync(l.root))
    throw new UpkeepError("E_NOT_FOUND", `nothing to uninstall: ${l.root} does not exist`);
  await stopLoop(l, o.force === true);
  let state: Awaited<ReturnType<typeof readState>> | undefined;
  try {
    state = await readState(l);
  } catch (e) {
    if (!o.force) throw e;
  }
  const waitMs = await durationFlag(o.lockWait, "--lock-wait");
  const done = await opUninstall(l, state, { log: logSync, waitMs });
  const { report } = await import("../output.ts");
  report(o, done, (d) =>
    [
      ...(d.stopped_pid ? [`stopped daemon pid ${d.stopped_pid}`] : []),
      ...d.removed.map((p) => `removed ${p}`),
    ].join("\n"),
  );
}

/** A running loop is refused, or with --force asked to stop (and waited for, 15 s at most). */
async function stopLoop(l: { root: string; socket: string }, force: boolean): Promise<void> {
  const { askLoop } = await import("../../core/sys/agent/control.ts");
  const { isUpkeepError, UpkeepError } = await import("../../core/errors.ts");
  const { existsSync } = await import("node:fs");
  // A loop that does not answer is taken for none; one this user may not reach stops here.
  const loop = await askLoop(l.socket, { cmd: "ping" }, 5000).catch((e) => {
    if (isUpkeepError(e) && e.code === "E_UNAUTHORIZED") throw e;
    return undefined;
  });
  if (!loop?.ok) return;
  if (!force)
    throw new UpkeepError("E_CONFLICT", `an agent run loop is running for ${l.root} (pid ${loop.pid})`, {
      hint: "stop it (or its service) first, or pass --force to stop it and uninstall",
    });
  await askLoop(l.socket, { cmd: "stop" }, 5000).catch(() => undefined);
  for (let i = 0; i < 300 && existsSync(l.socket); i++) await Bun.sleep(50);
}
