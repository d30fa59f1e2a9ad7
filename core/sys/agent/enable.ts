/**
 * `upkeep agent enable`: checks the flags, asks the server which version to run, performs the first install
 * (download, verify, extract, smoke test, switch, links) and only then writes update.yaml; with systemd it
 * writes the units and starts them. A failed first install writes no config (and removes a namespace
 * folder it created).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentSpec,
  type AgentState,
  agentUnit,
  changedSettings,
  daemonDropIn,
  daemonUnit,
  daemonUnitName,
  type EnableDefaults,
  type EnableFlags,
  emptyStatus,
  mergeEnableFlags,
} from "../../agent/mod.ts";
import { MAX_TIMER_MS, tryParseDuration } from "../../duration.ts";
import { type ErrorCode, UpkeepError, UsageError } from "../../errors.ts";
import { encodePublicKey, isValidProduct } from "../../trust/mod.ts";
import { makeDir } from "../install/extract.ts";
import { checkUrl } from "../install/mod.ts";
import { loadTrustedKeys } from "../keys.ts";
import { acquireLock } from "../lock.ts";
import type { Layout } from "./layout.ts";
import { binariesOf, ensureLinks, removeLinks } from "./links.ts";
import { find } from "./server_api.ts";
import { DetachedBackend } from "./service.ts";
import { readState, stateExists } from "./state_store.ts";
import { ExecSystemctl, type Systemctl, SystemdBackend, systemctlMust, writeUnits } from "./systemd.ts";
import { messageWithoutCode, type PassResult, Updater } from "./updater.ts";

export interface EnableInput {
  /** The flags given (undefined: keep the stored value, or the default on a first enable). */
  flags: EnableFlags;
  /** Defaults of a first enable that depend on this host. */
  defaults: EnableDefaults;
  /** The upkeep executable the agent unit runs. */
  upkeepPath: string;
}

export interface EnableResult {
  state: AgentState;
  result: PassResult | undefined;
  units: string[];
  /** A systemd health verdict after the start (undefined with supervise). */
  health?: string;
  /** False when the daemon was not healthy after the start (the config is kept): what to check. */
  healthy?: boolean;
  check?: string;
  /** True when update.yaml existed before (the stored settings were kept where no flag was given). */
  existing: boolean;
  /** The settings a flag changed on an existing namespace (`group (a -> b)`...). */
  changed: string[];
  /** Things the operator should know (no agent token...). */
  warnings: string[];
}

export async function enable(
  l: Layout,
  enableInput: EnableInput,
  log: (m: string) => void,
  ctl: Systemctl = new ExecSystemctl(),
): Promise<EnableResult> {
  // The stored settings are the base (read again under the lock for the status).
  const stored = (await stateExists(l)) ? await readState(l).catch(() => undefined) : undefined;
  const input = mergeEnableFlags(stored?.spec, enableInput.flags, enableInput.defaults, l.root);
  if (!isValidProduct(input.product))
    throw new UsageError(`--product ${JSON.stringify(input.product)}: use lowercase letters, digits and '-'`);
  if (input.healthUrl && input.healthCmd)
    throw new UsageError("--health-url and --health-cmd exclude each other: pick one");
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(input.daemon) || input.daemon === "." || input.daemon === "..")
    throw new UsageError(
      `--daemon ${JSON.stringify(input.daemon)}: a file name inside the release's bin/ (no /)`,
    );
  if (input.group.length > 64) throw new UsageError("--group: at most 64 characters");
  const every = tryParseDuration(input.interval) ?? 0;
  if (every <= 0 || every > MAX_TIMER_MS)
    throw new UsageError(
      `--interval ${JSON.stringify(input.interval)}: use a duration such as 5m (at most 24d)`,
    );
  try {
    checkUrl(input.server, input.insecure);
  } catch (e) {
    throw new UsageError(`--server ${input.server}: ${(e as Error).message}`, {
      hint: "https, or plain http to loopback or with --insecure",
    });
  }
  try {
    checkUrl(input.baseUrl, input.insecure);
  } catch (e) {
    throw new UsageError(`--base-url ${input.baseUrl}: ${(e as Error).message}`, {
      hint: "https, or plain http to loopback or with --insecure",
    });
  }
  if (input.healthUrl && !/^https?:\/\//.test(input.healthUrl))
    throw new UsageError(`--health-url ${input.healthUrl}: not an http(s) URL`);
  const keys = await loadTrustedKeys(input.trustKeys);

  const createdRoot = !existsSync(l.root);
  // 0755 whatever the umask: a daemon running as another user must traverse into current/bin.
  makeDir(l.root, true);
  const lock = await acquireLock(l.lockFile, {
    waitMs: 60_000,
    what: "agent enable",
    onWait: (h) => log(`waiting for another upkeep agent (${h})`),
  });
  let written = false;
  try {
    const previous = (await stateExists(l)) ? await readState(l).catch(() => undefined) : undefined;
    const spec: AgentSpec = {
      server: input.server.replace(/\/+$/, ""),
      product: input.product,
      group: input.group,
      baseUrl: input.baseUrl.replace(/\/+$/, ""),
      trustKeys: keys.map(encodePublicKey),
      token: input.token,
      insecure: input.insecure,
      edition: "oss",
      fips: false,
      service: input.service,
      daemon: input.daemon,
      daemonArgs: input.daemonArgs,
      healthUrl: input.healthUrl,
      healthCmd: input.healthCmd,
      healthWaitMs: input.healthWaitMs,
      healthTimeoutMs: input.healthTimeoutMs,
      binDir: input.binDir,
      systemdDir: input.service === "systemd" ? input.systemdDir : "",
      interval: input.interval,
      enabled: true,
      pinned: previous?.spec.pinned ?? false,
      updaterId: previous?.spec.updaterId ?? randomUUID(),
    };
    const state: AgentState = { spec, status: previous?.status ?? emptyStatus() };
    const answer = await find(spec);
    if (answer.agentVersion === "")
      throw new UpkeepError(
        "E_NOT_READY",
        `${spec.server} names no version to install yet${answer.reason ? `: ${answer.reason}` : ""}`,
        {
          hint: "nothing was installed; once its operator has applied an autoupdate_version with spec.agents, run upkeep agent enable again",
        },
      );
    if (answer.edition) spec.edition = answer.edition;
    spec.fips = answer.fips;
    // The first install runs without a service: the units (systemd) start the daemon afterwards.
    const updater = new Updater({
      layout: l,
      state,
      backend: new DetachedBackend(),
      log,
      persist: previous !== undefined,
    });
    await updater.recover();
    let result: PassResult | undefined;
    if (!updater.state.status.active) {
      result = await updater.pass({ force: answer.agentVersion, forceWhy: "first install of" });
      if (result.outcome !== "updated")
        throw new UpkeepError(
          (result.code as ErrorCode | undefined) ?? "E_IO",
          `first install of ${answer.agentVersion} failed: ${messageWithoutCode(result.message, result.code ?? "E_IO")}${answer.adjusted ? ` (${answer.agentVersion} is the server's choice: ${answer.adjusted})` : ""}`,
          {
            hint: "nothing was enabled: fix the problem and run upkeep agent enable again",
          },
        );
    }
    // A new --bin-dir on an existing namespace: the links move there (made first, then the old ones go).
    if (previous && previous.spec.binDir !== spec.binDir && updater.state.status.active) {
      await ensureLinks(l, spec.binDir, await binariesOf(l.current));
      await removeLinks(l, previous.spec.binDir);
    }
    updater.persist = true;
    updater.state.spec.enabled = true;
    const changed = previous ? changedSettings(previous.spec, spec) : [];
    if (previous) {
      // The stored result (e.g. "disabled: ...") no longer holds: say what this enable did.
      updater.state.status.lastResult = `${previous.spec.enabled ? "enabled again" : "re-enabled"} on ${updater.state.status.active || "nothing"}: ${changed.length ? `changed ${changed.join(", ")}` : "stored settings kept"}`;
    }
    await updater.save();
    written = true;
    const warnings: string[] = [];
    if (!spec.token)
      warnings.push(
        "no agent token (--token or UPKEEP_AGENT_TOKEN): this host sends no reports, so the server's rollouts never see it (they neither wait for it nor count its failures)",
      );
    const done = { existing: previous !== undefined, changed, warnings };

    const units: string[] = [];
    let health: string | undefined;
    if (input.service === "systemd") {
      const unitInput = {
        spec,
        upkeepPath: enableInput.upkeepPath,
        installDir: l.installDir,
        namespace: l.namespace,
        interval: input.interval,
      };
      const daemonPath = join(input.systemdDir, daemonUnitName(spec.daemon));
      const managed =
        !existsSync(daemonPath) ||
        (await Bun.file(daemonPath).text()).startsWith("# Written by upkeep agent enable");
      const files = [agentUnit(unitInput), managed ? daemonUnit(unitInput) : daemonDropIn(unitInput)];
      units.push(...(await writeUnits(input.systemdDir, files)));
      await systemctlMust(ctl, ["daemon-reload"]);
      await systemctlMust(ctl, ["enable", "--now", daemonUnitName(spec.daemon)]);
      await systemctlMust(ctl, ["enable", "--now", files[0]?.path ?? "upkeep-agent.service"]);
      const watcher = new Updater({
        layout: l,
        state: updater.state,
        backend: new SystemdBackend(ctl, daemonUnitName(spec.daemon)),
        log,
        persist: false,
      });
      const verdict = await watcher.watchHealth();
      health = `${verdict.state}: ${verdict.detail}`;
      if (verdict.state !== "healthy") {
        // Recorded before the exit, so `agent status` (which the hint points at) shows it.
        updater.state.status.lastError = `the daemon is not healthy after the start: ${health} (E_UNHEALTHY)`;
        updater.state.status.lastResult = `enabled on ${updater.state.status.active}; the daemon was not healthy after the start`;
        await updater.save();
        const unit = daemonUnitName(spec.daemon);
        const probe = spec.healthUrl
          ? `, the readiness URL ${spec.healthUrl}`
          : spec.healthCmd
            ? `, the health command ${JSON.stringify(spec.healthCmd)}`
            : "";
        return {
          state: updater.state,
          result,
          units,
          health,
          healthy: false,
          ...done,
          check: `the configuration is kept; check \`systemctl status ${unit}\`, \`journalctl -u ${unit}\`${probe}, then \`upkeep agent status\``,
        };
      }
    }
    // Reported only now that update.yaml exists (a failed first install leaves no trace on the server).
    await updater.reportActive();
    return {
      state: updater.state,
      result,
      units,
      ...(health ? { health, healthy: true } : {}),
      ...done,
    };
  } catch (e) {
    if (!written && createdRoot) {
      lock.release();
      await rm(l.root, { recursive: true, force: true });
    }
    throw e;
  } finally {
    lock.release();
  }
}
