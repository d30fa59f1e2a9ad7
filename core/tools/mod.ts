/** Client tools (DESIGN §7), pure: which version to run, LRU cleanup, the progress line, the state file. */
export * from "./choose_version.ts";
export * from "./effective_server.ts";
export * from "./forward_signal.ts";
export * from "./is_tool_name.ts";
export * from "./out_of_date_message.ts";
export * from "./parse_tools_state.ts";
export * from "./progress_bar.ts";
export * from "./refused.ts";
export * from "./same_server.ts";
export * from "./types.ts";
export * from "./versions_to_remove.ts";
