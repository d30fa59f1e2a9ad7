/**
 * `upkeep agent`: the host updater (DESIGN §6).
 *
 *     upkeep agent enable --server URL --product NAME --base-url URL --trust-key PUBFILE... [--group G]
 *         [--token T] [--install-dir D] [--namespace NS] [--bin-dir D] [--service systemd|supervise]
 *         [--daemon BIN] [--daemon-arg A]... [--health-url URL | --health-cmd CMD] [--insecure]
 *     upkeep agent run [--interval 5m]          # the loop (supervise: runs the daemon as its child)
 *     upkeep agent update [--now]               # one pass; asks a running loop when there is one
 *     upkeep agent status [--json] | pin [VERSION] | unpin | disable | rollback | uninstall [--force]
 *     upkeep agent self-test                    # this upkeep can be the updater: update.yaml, the server
 *
 * Every subcommand takes --install-dir (default /opt/upkeep, or UPKEEP_INSTALL_DIR) and --namespace
 * (default `default`). Only flags are declared here; the work loads inside the actions.
 */
import type { Command } from "commander";
import type { PassResult } from "../core/agent/pass_result.ts";
import type { AgentState } from "../core/agent/types.ts";
import { printable } from "../core/text/printable.ts";
import { durationFlag, logSync, loopAnswer, showResult, type Where, where } from "./agent/common.ts";
import { registerEnable } from "./agent/enable.ts";
import { registerUninstall } from "./agent/uninstall.ts";

export function register(program: Command): void {
  const agent = program
    .command("agent")
    .description("update a daemon on this host, check its health and roll back on failure");
  registerEnable(agent);
  registerRun(agent);
  registerUpdate(agent);
  registerStatus(agent);
  registerPin(agent);
  registerUnpinDisable(agent);
  registerRollback(agent);
  registerUninstall(agent);
  registerSelfTest(agent);
}

function registerSelfTest(agent: Command): void {
  where(agent.command("self-test"))
    .description(
      "check that this upkeep can be the updater: it reads update.yaml and reaches the server (the self-update runs it with a new updater before switching to it)",
    )
    .option("--json", "print the result as JSON")
    .action(async (o: Where) => {
      const { layout } = await import("../core/sys/agent/layout.ts");
      const { readState } = await import("../core/sys/agent/state_store.ts");
      const { find } = await import("../core/sys/agent/server_api.ts");
      const { UPKEEP_VERSION } = await import("../core/sys/self/build_info.ts");
      const l = layout(o.installDir, o.namespace);
      const state = await readState(l); // no lock: the loop holds it while it self-updates
      const answer = await find(state.spec);
      const { report } = await import("./output.ts");
      report(
        o,
        {
          version: UPKEEP_VERSION,
          namespace: l.namespace,
          server: state.spec.server,
          agent_version: answer.agentVersion || null,
          updater_version: answer.updaterVersion || null,
        },
        (d) =>
          `self-test: upkeep ${d.version}: ${l.stateFile} read; ${d.server} answered (agent version ${d.agent_version ?? "none"}, updater version ${d.updater_version ?? "none"})`,
      );
    });
}

function registerRun(agent: Command): void {
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
}

function registerUpdate(agent: Command): void {
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
}

function registerStatus(agent: Command): void {
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
      const { existsSync } = await import("node:fs");
      const { readSelfState, selfLayout } = await import("../core/sys/agent/self_update.ts");
      const { UPKEEP_VERSION } = await import("../core/sys/self/build_info.ts");
      const sl = selfLayout(l.installDir);
      const self = existsSync(sl.stateFile)
        ? { running: UPKEEP_VERSION, state: await readSelfState(sl) }
        : undefined;
      report(o, statusView(state, l.namespace, self), formatStatusText);
    });
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

function registerPin(agent: Command): void {
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
}

function registerUnpinDisable(agent: Command): void {
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
}

function registerRollback(agent: Command): void {
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
}
