import type { Command } from "commander";
import { UpkeepError } from "../core/errors.ts";

export function register(program: Command): void {
  program
    .command("serve")
    .description("run the version server (rollouts, find/ping API, artifact store, install.sh)")
    .action(() => {
      throw new UpkeepError("E_USAGE", "`upkeep serve` is not available in this build yet", {
        hint: "it is planned (issue 4); see README.md for what this build can do",
        exitCode: 2,
      });
    });
}
