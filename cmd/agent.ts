/**
 * `upkeep agent`: the host updater (DESIGN §6).
 *
 *     upkeep agent enable --server URL --product NAME --base-url URL --trust-key PUBFILE... [--group G]
 *         [--token T] [--install-dir D] [--namespace NS] [--bin-dir D] [--service systemd|supervise]
 *         [--daemon BIN] [--daemon-arg A]... [--health-url URL | --health-cmd CMD] [--insecure]
 *     upkeep agent run [--interval 5m]          # the loop (supervise: runs the daemon as its child)
 *     upkeep agent update [--now]               # one pass; asks a running loop when there is one
 *     upkeep agent status [--json] | pin [VERSION] | unpin | disable | rollback | uninstall [--force]
 *
 * Every subcommand takes --install-dir (default /opt/upkeep, or UPKEEP_INSTALL_DIR) and --namespace
 * (default `default`). Only flags are declared here; the work loads inside the actions.
 */
import type { Command } from "commander";
import type { AgentState } from "../core/agent/types.ts";
import type { ControlRequest } from "../core/sys/agent/control.ts";
import type { PassResult } from "../core/sys/agent/updater.ts";
import { printable } from "../core/text/printable.ts";
import { warn } from "./output.ts";

interface Where {
  installDir?: string;
  namespace?: string;
  json?: boolean;
}

function where(cmd: Command): Command {
  return cmd
    .option(
      "--install-dir <dir>",
      "where versions and update.yaml live (default /opt/upkeep, or UPKEEP_INSTALL_DIR)",
    )
    .option("--namespace <ns>", "one agent per namespace on a host (default `default`)");
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function durationFlag(text: string, flag: string): Promise<number> {
  const { tryParseDuration } = await import("../core/duration.ts");
  const { UsageError } = await import("../core/errors.ts");
  const ms = tryParseDuration(text);
  if (ms === undefined)
    throw new UsageError(`${flag} ${JSON.stringify(text)}: use a duration such as 10s, 5m`);
  return ms;
}

/** Progress and log lines go to stderr, each with a timestamp (the loop's output is its log). */
const logSync = (m: string) => warn(`${new Date().toISOString()} upkeep agent: ${printable(m)}`);

/** Prints a pass result; exit 1 for a failed or rolled-back update, and for an unreachable server. */
async function showResult(opts: { json?: boolean }, r: PassResult): Promise<void> {
  const { report } = await import("./output.ts");
  const { setExitCode } = await import("./context.ts");
  const { formatPassResult } = await import("../core/agent/pass_result.ts");
  report(opts, r, (x) => formatPassResult(x, printable));
  if (r.outcome === "failed" || r.outcome === "rolledback" || r.outcome === "error") setExitCode(1);
}

/** Whether an `agent run` loop holds the namespace's run lock (running, starting or stopping). */
async function loopHoldsRunLock(l: { runLockFile: string }): Promise<boolean> {
  const { acquireLock } = await import("../core/sys/lock.ts");
  const { isUpkeepError } = await import("../core/errors.ts");
  try {
    (await acquireLock(l.runLockFile, { waitMs: 0, what: "agent (is a loop running?)" })).release();
    return false;
  } catch (e) {
    if (isUpkeepError(e) && e.code === "E_LOCKED") return true;
    return false; // cannot tell (lock file unreadable): the namespace lock still keeps passes apart
  }
}

/**
 * Asks the running loop; undefined when there is none (the caller does the work itself). A loop takes its run
 * lock before its socket listens (it recovers and starts its daemon first): while it holds the lock without
 * listening, wait for it (up to `waitMs`). A one-shot pass beside a starting loop switched `current` under
 * the loop's daemon without restarting it.
 */
async function loopAnswer<T>(
  l: { socket: string; runLockFile: string },
  req: ControlRequest,
  waitMs = 60_000,
): Promise<T | undefined> {
  const { askLoop } = await import("../core/sys/agent/control.ts");
  const { UpkeepError } = await import("../core/errors.ts");
  let r = await askLoop(l.socket, req, 30 * 60_000);
  const end = Date.now() + waitMs;
  while (r === undefined && Date.now() < end && (await loopHoldsRunLock(l))) {
    await Bun.sleep(100);
    r = await askLoop(l.socket, req, 30 * 60_000);
  }
  if (r === undefined) return undefined;
  if (!r.ok) {
    const e = r.error ?? { code: "E_INTERNAL", message: "the agent run loop refused" };
    throw new UpkeepError(e.code as never, e.message, e.hint ? { hint: e.hint } : {});
  }
  return r.result as T;
}

/** `agent pin [VERSION]`. */
async function pin(version: string | undefined, o: Where): Promise<void> {
  const { layout } = await import("../core/sys/agent/layout.ts");
  const { UsageError } = await import("../core/errors.ts");
  const { tryParseVersion, formatVersion } = await import("../core/version/mod.ts");
  let v: string | undefined;
  if (version !== undefined) {
    const p = tryParseVersion(version);
    if (!p)
      throw new UsageError(`${JSON.stringify(version)} is not a version (e.g. 1.2.3)`, {
        code: "E_BAD_VERSION",
      });
    v = formatVersion(p);
  }
  const l = layout(o.installDir, o.namespace);
  let r = await loopAnswer<PassResult>(l, { cmd: "pin", ...(v ? { version: v } : {}) });
  if (!r) {
    const { openSession, opPin } = await import("../core/sys/agent/ops.ts");
    const s = await openSession(l, { what: "agent pin", log: logSync });
    try {
      r = await opPin(s.updater, v);
    } finally {
      s.close();
    }
  }
  const { report } = await import("./output.ts");
  report(o, r, () => `pinned to ${r.to || r.from}`);
}

export function register(program: Command): void {
  const agent = program
    .command("agent")
    .description("update a daemon on this host, check its health and roll back on failure");

  where(agent.command("enable"))
    .description(
      "configure this host's updater and install the version the server names; on an enabled or disabled namespace, flags not given keep their stored values",
    )
    .option(
      "--server <url>",
      "the version server (https; http only to loopback or with --insecure); required the first time",
    )
    .option(
      "--product <name>",
      "the product to install (artifact names and <product>-releases.json); required the first time",
    )
    .option(
      "--base-url <url>",
      "where artifacts and the signed manifest are downloaded from; required the first time",
    )
    .option(
      "--trust-key <pubfile>",
      "a trusted minisign public key file or RW... key; repeatable; required the first time",
      collect,
    )
    .option("--group <group>", "rollout group of this host (default: none, the last group)")
    .option(
      "--token <token>",
      "agent token for reports (or UPKEEP_AGENT_TOKEN); without one the host never reports",
    )
    .option("--bin-dir <dir>", "where the daemon's links go (default /usr/local/bin, or UPKEEP_BIN_DIR)")
    .option("--service <kind>", "systemd or supervise (default: systemd when it runs here, else supervise)")
    .option("--daemon <bin>", "the daemon's executable in the release's bin/ (default: the product name)")
    .option(
      "--daemon-arg <arg>",
      'an argument for the daemon; repeatable (--daemon-arg "" clears them)',
      collect,
    )
    .option("--health-url <url>", "readiness probe: a URL that answers 2xx when the daemon is ready")
    .option("--health-cmd <cmd>", "readiness probe: a shell command that exits 0 when the daemon is ready")
    .option("--health-wait <duration>", "how long the daemon is watched after a restart (default 10s)")
    .option("--health-timeout <duration>", "time limit of one probe and of the smoke test (default 5s)")
    .option("--systemd-dir <dir>", "where systemd units are written (default /etc/systemd/system)")
    .option(
      "--interval <duration>",
      "time between the loop's update passes, stored in update.yaml (default 5m)",
    )
    .option("--insecure", "allow plain http to hosts that are not loopback (stored)")
    .option("--no-insecure", "https only again, after an earlier --insecure")
    .option("--json", "print the result as JSON")
    .action(async (o: Where & Record<string, unknown>) => {
      const { layout, DEFAULT_BIN_DIR, DEFAULT_SYSTEMD_DIR } = await import("../core/sys/agent/layout.ts");
      const { enable } = await import("../core/sys/agent/enable.ts");
      const { UsageError } = await import("../core/errors.ts");
      const { statusView, formatStatusText } = await import("../core/agent/mod.ts");
      const { existsSync } = await import("node:fs");
      const { resolve } = await import("node:path");
      const str = (k: string) => (o[k] === undefined ? undefined : String(o[k]));
      const service = str("service");
      if (service !== undefined && service !== "systemd" && service !== "supervise")
        throw new UsageError(`--service ${JSON.stringify(service)}: use systemd or supervise`);
      const l = layout(o.installDir, o.namespace);
      const ms = async (k: string, flag: string) => {
        const v = str(k);
        return v === undefined ? undefined : durationFlag(v, flag);
      };
      const healthWaitMs = await ms("healthWait", "--health-wait");
      const healthTimeoutMs = await ms("healthTimeout", "--health-timeout");
      if (o.interval !== undefined && (await durationFlag(String(o.interval), "--interval")) <= 0)
        throw new UsageError("--interval: must be more than 0");
      const token = str("token") ?? process.env.UPKEEP_AGENT_TOKEN;
      const binDir = str("binDir") ?? process.env.UPKEEP_BIN_DIR;
      const systemdDir = str("systemdDir");
      const flags: import("../core/agent/mod.ts").EnableFlags = {
        ...(o.server !== undefined ? { server: String(o.server) } : {}),
        ...(o.product !== undefined ? { product: String(o.product) } : {}),
        ...(o.baseUrl !== undefined ? { baseUrl: String(o.baseUrl) } : {}),
        ...(o.trustKey !== undefined ? { trustKeys: o.trustKey as string[] } : {}),
        ...(o.group !== undefined ? { group: String(o.group) } : {}),
        ...(token !== undefined ? { token } : {}),
        ...(binDir !== undefined ? { binDir: resolve(binDir) } : {}),
        ...(service !== undefined ? { service } : {}),
        ...(o.daemon !== undefined ? { daemon: String(o.daemon) } : {}),
        // `--daemon-arg ""` alone clears the stored arguments.
        ...(o.daemonArg !== undefined
          ? {
              daemonArgs:
                (o.daemonArg as string[]).length === 1 && (o.daemonArg as string[])[0] === ""
                  ? []
                  : (o.daemonArg as string[]),
            }
          : {}),
        ...(o.healthUrl !== undefined ? { healthUrl: String(o.healthUrl) } : {}),
        ...(o.healthCmd !== undefined ? { healthCmd: String(o.healthCmd) } : {}),
        ...(healthWaitMs !== undefined ? { healthWaitMs } : {}),
        ...(healthTimeoutMs !== undefined ? { healthTimeoutMs } : {}),
        ...(o.insecure !== undefined ? { insecure: o.insecure === true } : {}),
        ...(systemdDir !== undefined ? { systemdDir: resolve(systemdDir) } : {}),
        ...(o.interval !== undefined ? { interval: String(o.interval) } : {}),
      };
      const r = await enable(
        l,
        {
          flags,
          defaults: {
            binDir: resolve(DEFAULT_BIN_DIR),
            service: existsSync("/run/systemd/system") ? "systemd" : "supervise",
            systemdDir: DEFAULT_SYSTEMD_DIR,
          },
          upkeepPath: process.execPath,
        },
        logSync,
      );
      for (const w of r.warnings) warn(`upkeep agent enable: warning: ${printable(w)}`);
      const { report } = await import("./output.ts");
      const view = statusView(r.state, l.namespace);
      if (r.healthy === false) {
        // Enabled, but the daemon did not come up healthy: exit 1 so scripts (install.sh) notice.
        const { setExitCode } = await import("./context.ts");
        setExitCode(1);
        warn(`upkeep agent enable: the daemon is not healthy after the start (${r.health}) (E_UNHEALTHY)`);
        warn(`  ${r.check}`);
      }
      const spec = r.state.spec;
      const data = {
        ...view,
        units: r.units,
        health: r.health ?? null,
        healthy: r.healthy ?? null,
        existing: r.existing,
        changed: r.changed,
        warnings: r.warnings,
      };
      report(o, data, (v) => {
        const next =
          spec.service === "supervise"
            ? `\nnext: run the daemon under the agent: upkeep agent run --install-dir ${l.installDir} --namespace ${l.namespace} --interval ${spec.interval}`
            : `\nunits: ${r.units.join(", ")}${r.health ? `\nhealth: ${r.health}` : ""}`;
        const settings = r.existing
          ? `\nsettings: ${r.changed.length ? `changed ${r.changed.join(", ")}` : "the stored ones (no flag changed any)"}`
          : "";
        return `enabled: ${v.active} installed in ${l.root}${settings}\n${formatStatusText(view)}${next}`;
      });
    });

  where(agent.command("run"))
    .description("the updater loop (systemd service or container entrypoint); supervise: runs the daemon")
    .option("--interval <duration>", "time between update passes (default: the one `enable` stored, else 5m)")
    .action(async (o: Where & { interval?: string }) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const { runLoop } = await import("../core/sys/agent/loop.ts");
      const { MAX_TIMER_MS } = await import("../core/duration.ts");
      const intervalMs =
        o.interval === undefined ? undefined : Math.max(await durationFlag(o.interval, "--interval"), 100);
      if (intervalMs !== undefined && intervalMs > MAX_TIMER_MS) {
        const { UsageError } = await import("../core/errors.ts");
        throw new UsageError(`--interval ${o.interval}: at most 24d`);
      }
      await runLoop({
        layout: layout(o.installDir, o.namespace),
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        log: logSync,
      });
    });

  where(agent.command("update"))
    .description(
      "one update pass now (asks the running `agent run` loop when there is one; while that loop waits out the server's jitter, says so)",
    )
    .option("--now", "skip the random jitter before downloading (also the one a running loop waits out)")
    .option("--lock-wait <duration>", "how long to wait for another updater of this namespace", "60s")
    .option("--json", "print the result as JSON")
    .action(async (o: Where & { now?: boolean; lockWait: string }) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const l = layout(o.installDir, o.namespace);
      const viaLoop = await loopAnswer<PassResult>(l, { cmd: "update", now: o.now === true });
      if (viaLoop) return showResult(o, viaLoop);
      const { openSession } = await import("../core/sys/agent/ops.ts");
      const waitMs = await durationFlag(o.lockWait, "--lock-wait");
      const s = await openSession(l, { what: "agent update", log: logSync, waitMs });
      try {
        await showResult(o, await s.updater.pass({ now: o.now === true }));
      } finally {
        s.close();
      }
    });

  where(agent.command("status"))
    .description("what runs, what is kept, the last check and its result")
    .option("--json", "print JSON")
    .action(async (o: Where) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const { openSession } = await import("../core/sys/agent/ops.ts");
      const { readState } = await import("../core/sys/agent/state_store.ts");
      const { statusView, formatStatusText } = await import("../core/agent/mod.ts");
      const { isUpkeepError } = await import("../core/errors.ts");
      const l = layout(o.installDir, o.namespace);
      let state: AgentState;
      try {
        // Recovery needs the lock: taken only when it is free. When an update holds it, update.yaml (written
        // atomically) is shown as it is, at once, with the update in flight.
        const s = await openSession(l, { what: "agent status", log: logSync, waitMs: 0 });
        state = s.updater.state;
        s.close();
      } catch (e) {
        if (!isUpkeepError(e) || e.code !== "E_LOCKED") throw e;
        state = await readState(l);
      }
      const { report } = await import("./output.ts");
      report(o, statusView(state, l.namespace), formatStatusText);
    });

  where(agent.command("pin"))
    .description(
      "stop following the server: stay on VERSION (installed first if needed) or on the active one",
    )
    .argument("[version]", "the version to install and pin (default: the active version)")
    .option("--json", "print the result as JSON")
    .action(async (version: string | undefined, o: Where) => {
      // With --json a refusal also answers on stdout; main.ts still prints it on stderr and picks the exit code.
      const { jsonFailure } = await import("./output.ts");
      await jsonFailure(o, () => pin(version, o));
    });

  for (const [name, description] of [
    ["unpin", "follow the server's version again"],
    ["disable", "stop updating (the daemon keeps running); `enable` turns updates back on"],
  ] as const) {
    where(agent.command(name))
      .description(description)
      .option("--json", "print the result as JSON")
      .action(async (o: Where & { json?: boolean }) => {
        const { layout } = await import("../core/sys/agent/layout.ts");
        const ops = await import("../core/sys/agent/ops.ts");
        const l = layout(o.installDir, o.namespace);
        const s = await ops.openSession(l, { what: `agent ${name}`, log: logSync });
        try {
          if (name === "unpin") await ops.opUnpin(s.updater);
          else await ops.opDisable(s.updater);
        } finally {
          s.close();
        }
        const { report } = await import("./output.ts");
        const st = s.updater.state;
        report(
          o,
          { result: st.status.lastResult, enabled: st.spec.enabled, pinned: st.spec.pinned },
          (d) => d.result,
        );
      });
  }

  where(agent.command("rollback"))
    .description("switch back to the backup version (no download) and skip the version left")
    .option("--json", "print the result as JSON")
    .action(async (o: Where) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const l = layout(o.installDir, o.namespace);
      let r = await loopAnswer<PassResult>(l, { cmd: "rollback" });
      if (!r) {
        const { openSession, opRollback } = await import("../core/sys/agent/ops.ts");
        const s = await openSession(l, { what: "agent rollback", log: logSync });
        try {
          r = await opRollback(s.updater);
        } finally {
          s.close();
        }
      }
      const { report } = await import("./output.ts");
      report(o, r, (x) => printable(x.message));
    });

  where(agent.command("uninstall"))
    .description("stop the agent and the daemon, remove units, links and the namespace folder")
    .option("--force", "also when an agent run loop is running or update.yaml is unreadable")
    .option("--lock-wait <duration>", "how long to wait for another updater of this namespace", "60s")
    .option("--json", "print what was removed as JSON")
    .action(async (o: Where & { force?: boolean; json?: boolean; lockWait: string }) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const { askLoop } = await import("../core/sys/agent/control.ts");
      const { readState } = await import("../core/sys/agent/state_store.ts");
      const { opUninstall } = await import("../core/sys/agent/ops.ts");
      const { UpkeepError } = await import("../core/errors.ts");
      const { existsSync } = await import("node:fs");
      const l = layout(o.installDir, o.namespace);
      if (!existsSync(l.root))
        throw new UpkeepError("E_NOT_FOUND", `nothing to uninstall: ${l.root} does not exist`);
      // A loop that does not answer is taken for none; one this user may not reach stops here.
      const { isUpkeepError } = await import("../core/errors.ts");
      const loop = await askLoop(l.socket, { cmd: "ping" }, 5000).catch((e) => {
        if (isUpkeepError(e) && e.code === "E_UNAUTHORIZED") throw e;
        return undefined;
      });
      if (loop?.ok) {
        if (!o.force)
          throw new UpkeepError(
            "E_CONFLICT",
            `an agent run loop is running for ${l.root} (pid ${loop.pid})`,
            {
              hint: "stop it (or its service) first, or pass --force to stop it and uninstall",
            },
          );
        await askLoop(l.socket, { cmd: "stop" }, 5000).catch(() => undefined);
        for (let i = 0; i < 300 && existsSync(l.socket); i++) await Bun.sleep(50);
      }
      let state: AgentState | undefined;
      try {
        state = await readState(l);
      } catch (e) {
        if (!o.force) throw e;
      }
      const waitMs = await durationFlag(o.lockWait, "--lock-wait");
      const done = await opUninstall(l, state, { log: logSync, waitMs });
      const { report } = await import("./output.ts");
      report(o, done, (d) =>
        [
          ...(d.stopped_pid ? [`stopped daemon pid ${d.stopped_pid}`] : []),
          ...d.removed.map((p) => `removed ${p}`),
        ].join("\n"),
      );
    });
}
