import type { Command } from "commander";
import { UpkeepError } from "../core/errors.ts";

export function register(program: Command): void {
  program
    .command("agent")
    .description("update a daemon on this host, check its health and roll back on failure")
    .action(() => {
      throw new UpkeepError("E_USAGE", "`upkeep agent` is not available in this build yet", {
        hint: "it is planned (issue 5); see README.md for what this build can do",
        exitCode: 2,
      });
    });
}
