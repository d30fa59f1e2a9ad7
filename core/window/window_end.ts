import { currentWindow } from "./current_window.ts";
import type { Window } from "./types.ts";

/** When the currently open occurrence of the window closes, or `undefined` when it is closed now. */
export function windowEnd(window: Window, now: Date | number): Date | undefined {
  return currentWindow(window, now)?.end;
}
