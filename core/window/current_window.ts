import { compile, spanAt, toMs } from "./_time.ts";
import type { Window, WindowSpan } from "./types.ts";

/**
 * The occurrence of the window that contains `now` (`start <= now < end`), or `undefined` when the window
 * is closed. `start` is the opening instant, `end` = `start + durationMinutes`.
 */
export function currentWindow(window: Window, now: Date | number): WindowSpan | undefined {
  const span = spanAt(compile(window), toMs(now));
  return span === undefined ? undefined : { start: new Date(span[0]), end: new Date(span[1]) };
}
