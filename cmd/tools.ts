import type { Command } from "commander";
import { UpkeepError } from "../core/errors.ts";

export function register(program: Command): void {
  program
    .command("tools")
    .description("keep client tools in this shell in step with the cluster")
    .action(() => {
      throw new UpkeepError("E_USAGE", "`upkeep tools` is not available in this build yet", {
        hint: "it is planned (issue 6); see README.md for what this build can do",
        exitCode: 2,
      });
    });
}
