import type { Command } from "commander";
import { UpkeepError } from "../core/errors.ts";

export function register(program: Command): void {
  program
    .command("admin")
    .description("operator CLI for a running upkeep serve")
    .action(() => {
      throw new UpkeepError("E_USAGE", "`upkeep admin` is not available in this build yet", {
        hint: "it is planned (issue 4); see README.md for what this build can do",
        exitCode: 2,
      });
    });
}
