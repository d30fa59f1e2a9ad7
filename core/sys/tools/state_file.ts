/**
 * Reads `<tools-dir>/tools.json` on the shim's hot path (readTextSync: no module loaded). The file is replaced
 * by rename, so a mapping always sees one complete version of it.
 */
import { parseToolsState } from "../../tools/parse_tools_state.ts";
import type { ToolsState } from "../../tools/types.ts";
import { statePath } from "./paths.ts";
import { readTextSync } from "./read_text_sync.ts";

/** Synchronous on purpose: the shim saves a promise turn (~0.07 ms measured on a fresh start). */
export function readToolsState(dir: string): { state: ToolsState; exists: boolean } {
  const path = statePath(dir);
  const text = readTextSync(path);
  if (text === undefined) return { state: { trustKeys: [], enrolled: false }, exists: false };
  return { state: parseToolsState(text, path), exists: true };
}
