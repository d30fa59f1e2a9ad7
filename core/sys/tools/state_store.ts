/** Writes `<tools-dir>/tools.json` (0600, atomic). Reading is in state_file.ts (hot path). */
import type { ToolsState } from "../../tools/types.ts";
import { writeFileAtomic } from "../files.ts";
import { statePath } from "./paths.ts";

export { readToolsState } from "./state_file.ts";

export async function writeToolsState(dir: string, state: ToolsState): Promise<void> {
  await writeFileAtomic(statePath(dir), `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
    overwrite: true,
  });
}
