/**
 * Sends the pass's reports to the version server. A report never fails an update: one not sent is logged
 * and kept in update.yaml (`last_report_error`, shown by `agent status`) until one is sent again. Nothing is
 * reported before update.yaml exists (a failed first install of `enable`): the server would list a host
 * that was never enabled, under an updater_id that is not kept.
 */
import type { AgentState, PassReport } from "../../agent/mod.ts";
import type { ServerPort } from "./ports.ts";

export interface ReportContext {
  /** The namespace (its install dir holds the updater's state.json: a failed self-update is reported). */
  layout?: { installDir: string };
  server: ServerPort;
  state: AgentState;
  /** update.yaml is written (false for `enable` before its first install succeeded). */
  persist: boolean;
  log: (msg: string) => void;
  save: () => Promise<void>;
}

const NO_TOKEN =
  "no agent token: this host sends no reports, the server's rollouts do not see it (upkeep agent enable --token T)";

export async function sendPassReport(c: ReportContext, r: PassReport): Promise<void> {
  if (!c.persist) return;
  const token = c.state.spec.token !== "";
  const err = token ? await c.server.report(c.state.spec, { ...r, ...(await updaterFields(c)) }) : NO_TOKEN;
  if (err && token) c.log(`report not sent (the update is not affected): ${err}`);
  const st = c.state.status;
  if ((err ?? "") !== st.lastReportError) {
    st.lastReportError = err ?? "";
    await c.save().catch(() => {});
  }
}

/** The updater's part of every report: the version it runs, a version whose self-update failed here. */
async function updaterFields(
  c: ReportContext,
): Promise<{ updaterVersion: string; updaterFailedVersion?: string }> {
  const { UPKEEP_VERSION } = await import("../self/build_info.ts");
  if (!c.layout) return { updaterVersion: UPKEEP_VERSION };
  const { readSelfState, selfLayout } = await import("./self_update.ts");
  const failed = (await readSelfState(selfLayout(c.layout.installDir))).failed?.version;
  return { updaterVersion: UPKEEP_VERSION, ...(failed ? { updaterFailedVersion: failed } : {}) };
}
