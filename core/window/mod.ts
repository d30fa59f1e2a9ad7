/**
 * Maintenance windows (UTC): validation, "is now in the window", "when does it open next".
 * Pure: `now` is always passed in, as a Date or epoch milliseconds.
 *
 * @module
 */
export * from "./current_window.ts";
export * from "./is_in_window.ts";
export * from "./next_window_open.ts";
export * from "./parse_weekday.ts";
export * from "./parse_window.ts";
export * from "./types.ts";
