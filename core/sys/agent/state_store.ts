/** Reads and writes update.yaml: atomic (temp file, fsync, rename), mode 0600, validated on read. */

import { type AgentState, formatState, MAX_STATE_FILE_BYTES, parseState } from "../../agent/mod.ts";
import { UpkeepError } from "../../errors.ts";
import { exists, readTextCapped, writeFileAtomic } from "../files.ts";
import type { Layout } from "./layout.ts";

export async function stateExists(l: Layout): Promise<boolean> {
  return exists(l.stateFile);
}

/** The namespace's state; E_NOT_FOUND with a hint when the agent was never enabled here. */
export async function readState(l: Layout): Promise<AgentState> {
  if (!(await exists(l.stateFile))) {
    throw new UpkeepError("E_NOT_FOUND", `no agent is enabled in ${l.root} (${l.stateFile} does not exist)`, {
      hint: "run `upkeep agent enable ...` first, or pass the --install-dir / --namespace it was enabled with",
    });
  }
  const text = await readTextCapped(l.stateFile, MAX_STATE_FILE_BYTES, "agent state file");
  return parseState(text, l.stateFile);
}

export async function writeState(l: Layout, state: AgentState): Promise<void> {
  await writeFileAtomic(l.stateFile, formatState(state), { mode: 0o600, overwrite: true });
}
