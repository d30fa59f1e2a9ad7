/** `upkeep agent enable`: its flags, and the enable itself with its output. */
import type { Command } from "commander";
import type { EnableFlags } from "../../core/agent/enable_spec.ts";
import type { EnableResult } from "../../core/sys/agent/enable.ts";
import type { Layout } from "../../core/sys/agent/layout.ts";
import { printable } from "../../core/text/printable.ts";
import { warn } from "../output.ts";
import { collect, durationFlag, logSync, type Where, where } from "./common.ts";

type EnableOptions = Where & Record<string, unknown>;

export function registerEnable(agent: Command): void {
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
    .option(
      "--no-self-update",
      "do not update the agent's own executable when the server names an updater version (stored)",
    )
    .option("--self-update", "update the agent's own executable again, after an earlier --no-self-update")
    .option(
      "--self-trust-key <pubfile>",
      "a key upkeep's own releases may be signed by, beside the built-in ones (a fork, an internal build); repeatable",
      collect,
    )
    .option("--json", "print the result as JSON")
    .action(enableAction);
}

async function enableAction(o: EnableOptions): Promise<void> {
  const { layout, DEFAULT_BIN_DIR, DEFAULT_SYSTEMD_DIR } = await import("../../core/sys/agent/layout.ts");
  const { enable } = await import("../../core/sys/agent/enable.ts");
  const { existsSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const flags = await enableFlags(o);
  const l = layout(o.installDir, o.namespace);
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
  if (r.healthy === false) {
    // Enabled, but the daemon did not come up healthy: exit 1 so scripts (install.sh) notice.
    const { setExitCode } = await import("../context.ts");
    setExitCode(1);
    warn(`upkeep agent enable: the daemon is not healthy after the start (${r.health}) (E_UNHEALTHY)`);
    warn(`  ${r.check}`);
  }
  await printEnabled(o, l, r);
}

/** The flags given, checked and resolved (undefined: not given, the stored value or the default applies). */
async function enableFlags(o: EnableOptions): Promise<EnableFlags> {
  const { UsageError } = await import("../../core/errors.ts");
  const { resolve } = await import("node:path");
  const str = (k: string) => (o[k] === undefined ? undefined : String(o[k]));
  const service = str("service");
  if (service !== undefined && service !== "systemd" && service !== "supervise")
    throw new UsageError(`--service ${JSON.stringify(service)}: use systemd or supervise`);
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
  const daemonArgs = o.daemonArg as string[] | undefined;
  const given = (k: keyof EnableFlags, v: unknown) => (v === undefined ? {} : { [k]: v });
  return {
    ...given("server", str("server")),
    ...given("product", str("product")),
    ...given("baseUrl", str("baseUrl")),
    ...given("trustKeys", o.trustKey),
    ...given("group", str("group")),
    ...given("token", token),
    ...given("binDir", binDir === undefined ? undefined : resolve(binDir)),
    ...given("service", service),
    ...given("daemon", str("daemon")),
    // `--daemon-arg ""` alone clears the stored arguments.
    ...given("daemonArgs", daemonArgs?.length === 1 && daemonArgs[0] === "" ? [] : daemonArgs),
    ...given("healthUrl", str("healthUrl")),
    ...given("healthCmd", str("healthCmd")),
    ...given("healthWaitMs", healthWaitMs),
    ...given("healthTimeoutMs", healthTimeoutMs),
    ...given("insecure", o.insecure === undefined ? undefined : o.insecure === true),
    ...given("systemdDir", systemdDir === undefined ? undefined : resolve(systemdDir)),
    ...given("interval", str("interval")),
    ...given("selfUpdate", o.selfUpdate === undefined ? undefined : o.selfUpdate === true),
    ...given("selfTrustKeys", o.selfTrustKey),
  };
}

async function printEnabled(o: EnableOptions, l: Layout, r: EnableResult): Promise<void> {
  const { statusView, formatStatusText } = await import("../../core/agent/mod.ts");
  const { report } = await import("../output.ts");
  const view = statusView(r.state, l.namespace);
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
}
