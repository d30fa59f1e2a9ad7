import type { ToolsState } from "./types.ts";

/**
 * The server client tools ask: `UPKEEP_SERVER` beats the one saved at login (DESIGN §7: an environment
 * value beats the saved configuration). The saved state itself is never changed by the environment.
 */
export function effectiveServer(
  state: ToolsState,
  env: Record<string, string | undefined>,
): string | undefined {
  const fromEnv = env.UPKEEP_SERVER?.trim().replace(/\/+$/, "");
  return fromEnv || state.server;
}
