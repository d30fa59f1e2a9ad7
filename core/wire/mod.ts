/**
 * The wire formats between upkeep's parts, typed once: the find/ping body (built by the server, read by the
 * agent and client tools), the agent report (built by the agent, read by the server), the native API's
 * views (built by the server, read by `upkeep admin`), and the refusal body (Teleport's `{error: {message}}`). One builder and one parser each. Pure.
 *
 * @module
 */
export * from "./error_body.ts";
export * from "./find_body.ts";
export * from "./parse_find.ts";
export * from "./report.ts";
export * from "./views.ts";
