/** Reads `<tools-dir>/tools.json` with Bun-native I/O (the shim's hot path). */
import { UpkeepError } from "../../errors.ts";
import { parseToolsState } from "../../tools/parse_tools_state.ts";
import type { ToolsState } from "../../tools/types.ts";
import { statePath } from "./paths.ts";

export async function readToolsState(dir: string): Promise<{ state: ToolsState; exists: boolean }> {
  const path = statePath(dir);
  const f = Bun.file(path);
  let text: string;
  try {
    text = await f.text();
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT")
      return { state: { trustKeys: [], enrolled: false }, exists: false };
    throw new UpkeepError("E_IO", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return { state: parseToolsState(text, path), exists: true };
}
