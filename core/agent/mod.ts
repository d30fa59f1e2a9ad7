/**
 * The host updater's decisions (DESIGN §6), pure: the state file schema, whether a pass updates, health
 * verdicts, what a failure means and which report a pass sends, the status changes of commit and rollback,
 * crash recovery plans, which versions to keep, systemd unit text. I/O is in core/sys/agent.
 */
export * from "./decide.ts";
export * from "./enable_spec.ts";
export * from "./failure_policy.ts";
export * from "./health.ts";
export * from "./pass_report.ts";
export * from "./pass_result.ts";
export * from "./recover.ts";
export * from "./self_update.ts";
export * from "./settle.ts";
export * from "./state_file.ts";
export * from "./status_view.ts";
export * from "./systemd.ts";
export * from "./types.ts";
