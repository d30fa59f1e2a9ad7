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
  type EnableSettings,
  emptyStatus,
  mergeEnableFlags,
} from "../../agent/mod.ts";
import { MAX_TIMER_MS, tryParseDuration } from "../../duration.ts";
import { UpkeepError, UsageError } from "../../errors.ts";
import { encodePublicKey, isValidProduct } from "../../trust/mod.ts";
import { makeDir } from "../install/extract.ts";
import { checkUrl } from "../install/mod.ts";
import { loadTrustedKeys } from "../keys.ts";
import { acquireLock } from "../lock.ts";
import { watchHealth } from "./health_watch.ts";
import type { Layout } from "./layout.ts";
import { binariesOf, ensureLinks, removeLinks } from "./links.ts";
import { realPorts } from "./ports.ts";
import { DetachedBackend } from "./service.ts";
import { readState, stateExists } from "./state_store.ts";
import {
  ExecSystemctl,
  type Systemctl,
  SystemdBackend,
  systemctlMust,
  unitOwner,
  writeUnits,
} from "./systemd.ts";
import { type PassResult, Updater } from "./updater.ts";

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
  checkSettings(input);
  const keys = await loadTrustedKeys(input.trustKeys);
  // The operator's keys for upkeep's own releases (a fork, an internal build): checked now, stored as RW...
  const selfKeys = input.selfTrustKeys.length ? await loadTrustedKeys(input.selfTrustKeys) : [];

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
    const spec = specOf(input, keys.map(encodePublicKey), previous?.spec, selfKeys.map(encodePublicKey));
    const { updater, result } = await firstInstall(
      l,
      { spec, status: previous?.status ?? emptyStatus() },
      previous !== undefined,
      log,
    );
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
    const done = { state: updater.state, result, existing: previous !== undefined, changed, warnings };
    if (input.service === "systemd") {
      const started = await startUnits(l, updater, input, unitUpkeepPath(l, enableInput.upkeepPath), ctl);
      // Not healthy: nothing reported (the operator is told what to check first).
      if (started.healthy) await updater.reportActive();
      return { ...done, ...started };
    }
    // Reported only now that update.yaml exists (a failed first install leaves no trace on the server).
    await updater.reportActive();
    return { ...done, units: [] };
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

/** Refuses settings that would make a broken update.yaml (UsageError, exit 2), before anything is made. */
function checkSettings(input: EnableSettings): void {
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
  for (const [flag, url] of [
    ["--server", input.server],
    ["--base-url", input.baseUrl],
  ] as const) {
    try {
      checkUrl(url, input.insecure);
    } catch (e) {
      throw new UsageError(`${flag} ${url}: ${(e as Error).message}`, {
        hint: "https, or plain http to loopback or with --insecure",
      });
    }
  }
  if (input.healthUrl && !/^https?:\/\//.test(input.healthUrl))
    throw new UsageError(`--health-url ${input.healthUrl}: not an http(s) URL`);
}

/** The spec enable writes: the settings, the keys as `RW...` text, and what a previous enable kept. */
function specOf(
  input: EnableSettings,
  trustKeys: string[],
  previous: AgentSpec | undefined,
  selfTrustKeys: string[] = [],
): AgentSpec {
  return {
    server: input.server.replace(/\/+$/, ""),
    product: input.product,
    group: input.group,
    baseUrl: input.baseUrl.replace(/\/+$/, ""),
    trustKeys,
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
    pinned: previous?.pinned ?? false,
    updaterId: previous?.updaterId ?? randomUUID(),
    ...(input.selfUpdate === false ? { selfUpdate: false } : {}),
    ...(selfTrustKeys.length ? { selfTrustKeys } : {}),
  };
}

/**
 * Asks the server which version to run and installs it when nothing runs yet (recovery first: an enable
 * on an existing namespace). The first install runs without a service: the units (systemd) start the
 * daemon afterwards. update.yaml is not written here (`persist` only when it existed before).
 */
async function firstInstall(
  l: Layout,
  state: AgentState,
  persist: boolean,
  log: (m: string) => void,
): Promise<{ updater: Updater; result: PassResult | undefined }> {
  const spec = state.spec;
  const answer = await realPorts.server.find(spec);
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
  const updater = new Updater({
    layout: l,
    state,
    ...realPorts,
    service: new DetachedBackend(),
    log,
    persist,
  });
  await updater.recover();
  if (updater.state.status.active) return { updater, result: undefined };
  const result = await updater.pass({ force: answer.agentVersion, forceWhy: "first install of" });
  if (result.outcome !== "updated")
    throw new UpkeepError(
      result.code ?? "E_IO",
      `first install of ${answer.agentVersion} failed: ${result.message}${answer.adjusted ? ` (${answer.agentVersion} is the server's choice: ${answer.adjusted})` : ""}`,
      { hint: "nothing was enabled: fix the problem and run upkeep agent enable again" },
    );
  return { updater, result };
}

/**
 * systemd: writes the units (the daemon's, or a drop-in for a unit that is not ours), starts them and
 * watches the daemon's health. Not healthy: recorded in update.yaml (the config is kept) with what to check.
 */
async function startUnits(
  l: Layout,
  updater: Updater,
  input: EnableSettings,
  upkeepPath: string,
  ctl: Systemctl,
): Promise<Pick<EnableResult, "units" | "health" | "healthy" | "check">> {
  const spec = updater.state.spec;
  const unitInput = {
    spec,
    upkeepPath,
    installDir: l.installDir,
    namespace: l.namespace,
    interval: input.interval,
  };
  const unit = daemonUnitName(spec.daemon);
  const daemonPath = join(input.systemdDir, unit);
  const managed = (await unitOwner(daemonPath)) !== "operator";
  const files = [agentUnit(unitInput), managed ? daemonUnit(unitInput) : daemonDropIn(unitInput)];
  const units = await writeUnits(input.systemdDir, files);
  await systemctlMust(ctl, ["daemon-reload"]);
  await systemctlMust(ctl, ["enable", "--now", unit]);
  await systemctlMust(ctl, ["enable", "--now", files[0]?.path ?? "upkeep-agent.service"]);
  const service = new SystemdBackend(ctl, unit);
  const verdict = await watchHealth({ service, probe: realPorts.probe, spec });
  const health = `${verdict.state}: ${verdict.detail}`;
  if (verdict.state === "healthy") return { units, health, healthy: true };
  // Recorded before the exit, so `agent status` (which the hint points at) shows it.
  const st = updater.state.status;
  st.lastError = `the daemon is not healthy after the start: ${health} (E_UNHEALTHY)`;
  st.lastResult = `enabled on ${st.active}; the daemon was not healthy after the start`;
  await updater.save();
  const probe = spec.healthUrl
    ? `, the readiness URL ${spec.healthUrl}`
    : spec.healthCmd
      ? `, the health command ${JSON.stringify(spec.healthCmd)}`
      : "";
  return {
    units,
    health,
    healthy: false,
    check: `the configuration is kept; check \`systemctl status ${unit}\`, \`journalctl -u ${unit}\`${probe}, then \`upkeep agent status\``,
  };
}

/**
 * The upkeep the agent's unit runs: an updater version's own file (a self-updated upkeep started through its
 * bin link sees that path) is run as `<install-dir>/updater/current/upkeep`, which follows later switches.
 */
export function unitUpkeepPath(l: Layout, upkeepPath: string): string {
  const versions = join(l.installDir, "updater", "versions");
  return upkeepPath.startsWith(`${versions}/`)
    ? join(l.installDir, "updater", "current", "upkeep")
    : upkeepPath;
}
