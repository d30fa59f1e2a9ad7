/**
 * Sends the pass's reports to the version server. A report never fails an update: one not sent is logged
 * and kept in update.yaml (`last_report_error`, shown by `agent status`) until one is sent again. Nothing is
 * reported before update.yaml exists (a failed first install of `enable`): the server would list a host
 * that was never enabled, under an updater_id that is not kept.
 */
import type { AgentState, PassReport } from "../../agent/mod.ts";
import type { ServerPort } from "./ports.ts";

export interface ReportContext {
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
  const err = token ? await c.server.report(c.state.spec, r) : NO_TOKEN;
  if (err && token) c.log(`report not sent (the update is not affected): ${err}`);
  const st = c.state.status;
  if ((err ?? "") !== st.lastReportError) {
    st.lastReportError = err ?? "";
    await c.save().catch(() => {});
  }
}
