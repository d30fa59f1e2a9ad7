/** `upkeep agent status` as JSON and as text. Pure. */
import { printable } from "../text/printable.ts";
import type { SelfState } from "./self_update.ts";
import type { AgentState, StatusView } from "./types.ts";

export function statusView(
  state: AgentState,
  namespace: string,
  self?: { running: string; state: SelfState },
): StatusView {
  const { spec, status } = state;
  const orNull = (v: string) => (v === "" ? null : v);
  return {
    enabled: spec.enabled,
    pinned: spec.pinned,
    active: orNull(status.active),
    backup: orNull(status.backup),
    skip: [...status.skip],
    group: spec.group,
    server: spec.server,
    updater_id: spec.updaterId,
    last_check: orNull(status.lastCheck),
    last_result: orNull(status.lastResult),
    last_error: orNull(status.lastError),
    last_report_error: orNull(status.lastReportError),
    namespace,
    service: spec.service,
    updating: status.updating ? { from: status.updating.from, to: status.updating.to } : null,
    ...(self
      ? {
          updater: {
            running: self.running,
            active: orNull(self.state.active),
            backup: orNull(self.state.backup),
            skip: [...self.state.skip],
            updating: self.state.updating
              ? { from: self.state.updating.from, to: self.state.updating.to }
              : null,
            failed: self.state.failed ?? null,
            self_update: spec.selfUpdate !== false,
          },
        }
      : {}),
  };
}

export function formatStatusText(v: StatusView): string {
  const rows: [string, string][] = [
    ["namespace", v.namespace],
    ["enabled", v.enabled ? "yes" : "no"],
    ["pinned", v.pinned ? "yes" : "no"],
    ["active", v.active ?? "-"],
    ["backup", v.backup ?? "-"],
    ["skip", v.skip.length ? v.skip.join(", ") : "-"],
    ["group", v.group || "-"],
    ["server", v.server],
    ["service", v.service],
    ["updater_id", v.updater_id],
    ["last_check", v.last_check ?? "-"],
    ["last_result", v.last_result ?? "-"],
    ["last_error", v.last_error ?? "-"],
    ["last_report_error", v.last_report_error ?? "-"],
  ];
  if (v.updating) rows.push(["updating", `${v.updating.from || "-"} -> ${v.updating.to}`]);
  const u = v.updater;
  if (u) {
    const trial = u.updating ? `; on trial: ${u.updating.from} -> ${u.updating.to}` : "";
    const skip = u.skip.length ? `; skip ${u.skip.join(", ")}` : "";
    const off = u.self_update ? "" : "; self-update off";
    rows.push(["updater", `${u.active ?? u.running} (this is ${u.running}${trial}${skip}${off})`]);
    if (u.failed) rows.push(["updater_failed", `${u.failed.version}: ${u.failed.reason}`]);
  }
  // Errors and results carry text from the server and the network: each value stays on its own line.
  return rows.map(([k, val]) => `${`${k}:`.padEnd(12)} ${printable(val)}`).join("\n");
}
