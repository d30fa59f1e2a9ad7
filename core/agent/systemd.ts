/**
 * systemd units for the `systemd` service backend (DESIGN §6, seed 004's unit file). Pure text.
 *
 * - `upkeep-agent[-NS].service`: the updater loop (`upkeep agent run`), restarted on failure.
 * - `<daemon>.service`: the daemon, when upkeep manages it (written only when no such unit exists),
 *   started through the `<bin-dir>` link so a switch of `current` is picked up at the next restart.
 * - a drop-in `<daemon>.service.d/50-upkeep.conf` when the operator owns the daemon's unit: it marks the
 *   unit as managed and makes the daemon restart on failure, which the health check counts.
 */
import type { AgentSpec } from "./types.ts";

export interface UnitInput {
  spec: Pick<AgentSpec, "daemon" | "daemonArgs" | "binDir" | "product">;
  /** Absolute path of the upkeep executable. */
  upkeepPath: string;
  installDir: string;
  namespace: string;
  /** Loop interval as written on the command line, e.g. `5m`. */
  interval: string;
}

export interface UnitFile {
  /** Path relative to the systemd unit directory. */
  path: string;
  text: string;
}

/** systemd command-line quoting: bare when safe, else double quotes with `\` escapes; `%` doubled. */
export function quoteArg(arg: string): string {
  const escaped = arg.replaceAll("%", "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/[\\"$]/g, (c) => (c === "$" ? "$$" : `\\${c}`))}"`;
}

export function agentUnitName(namespace: string): string {
  return namespace === "default" ? "upkeep-agent.service" : `upkeep-agent-${namespace}.service`;
}

export function daemonUnitName(daemon: string): string {
  return `${daemon}.service`;
}

export const DROP_IN_NAME = "50-upkeep.conf";

/** How every unit file `enable` writes begins: what tells upkeep's units from the operator's. */
export const UNIT_MARK = "# Written by upkeep agent enable";

/**
 * Whether a unit file's text is one `enable` wrote (upkeep replaces it, and `uninstall` disables and removes
 * it), not the operator's (kept: upkeep adds a drop-in beside it instead).
 */
export function isOurUnit(text: string): boolean {
  return text.startsWith(UNIT_MARK);
}

export function agentUnit(i: UnitInput): UnitFile {
  const exec = [
    i.upkeepPath,
    "agent",
    "run",
    "--install-dir",
    i.installDir,
    "--namespace",
    i.namespace,
    // No --interval: the loop reads the one `enable` stored in update.yaml before each wait, so a later
    // `enable --interval` applies without restarting the service.
  ]
    .map(quoteArg)
    .join(" ");
  const text = `${UNIT_MARK}; upkeep agent uninstall removes it.
[Unit]
Description=upkeep agent: keeps ${i.spec.daemon} (namespace ${i.namespace}) on the version its server names
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
Restart=on-failure
RestartSec=10s
# The updater replaces files under the install dir and the bin-dir links, and restarts ${daemonUnitName(i.spec.daemon)}.
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
`;
  return { path: agentUnitName(i.namespace), text };
}

export function daemonUnit(i: UnitInput): UnitFile {
  const exec = [`${i.spec.binDir.replace(/\/+$/, "")}/${i.spec.daemon}`, ...i.spec.daemonArgs]
    .map(quoteArg)
    .join(" ");
  const text = `${UNIT_MARK} (upkeep manages this daemon); upkeep agent uninstall removes it.
[Unit]
Description=${i.spec.daemon} (${i.spec.product}), kept up to date by upkeep agent
After=network.target

[Service]
Type=simple
ExecStart=${exec}
Restart=on-failure
RestartSec=2s
KillMode=mixed
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
`;
  return { path: daemonUnitName(i.spec.daemon), text };
}

export function daemonDropIn(i: UnitInput): UnitFile {
  const text = `${UNIT_MARK}: ${i.spec.daemon} is kept up to date by upkeep agent
# (install dir ${i.installDir}, namespace ${i.namespace}). upkeep agent uninstall removes this file.
[Service]
Restart=on-failure
RestartSec=2s
`;
  return { path: `${daemonUnitName(i.spec.daemon)}.d/${DROP_IN_NAME}`, text };
}
