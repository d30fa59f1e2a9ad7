/**
 * The command tree. Each group registers its flags from its own file; the work behind a command is loaded
 * with `import()` inside its action so that `upkeep --help` and the `tools` fast path stay light.
 */
import { Command, CommanderError } from "commander";
import { register as registerAdmin } from "./admin.ts";
import { register as registerAgent } from "./agent.ts";
import { takeExitCode } from "./context.ts";
import { writeFd } from "./output.ts";
import { register as registerRelease } from "./release.ts";
import { register as registerSelfUpdate } from "./self_update.ts";
import { register as registerServe } from "./serve.ts";
import { register as registerTools } from "./tools.ts";
import { register as registerVersion } from "./version.ts";

export function buildProgram(version: string): Command {
  const program = new Command("upkeep")
    .description("Managed updates for a self-hosted fleet: version server, host agent and client tools.")
    .version(`upkeep ${version}`, "-V, --version", "print the upkeep version")
    .option("--debug", "print stack traces on errors")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => writeFd(1, s),
      writeErr: (s) => writeFd(2, s),
      // Commander's own usage errors: print once, main.ts maps them to exit 2.
      outputError: (s, write) => write(s.startsWith("error:") ? s.replace(/\n?$/, " (E_USAGE)\n") : s),
    });
  registerServe(program);
  registerAgent(program);
  registerTools(program);
  registerRelease(program);
  registerAdmin(program);
  registerVersion(program);
  registerSelfUpdate(program, version);
  // Program options (-V/--version) only before the command: `release pack --version 1.2.3` is pack's. Set
  // after the commands are made, so they do not inherit it: `admin get config --server URL` keeps working.
  program.enablePositionalOptions();
  applyExitOverride(program);
  return program;
}

/** Commander throws instead of exiting, everywhere in the tree. */
function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) applyExitOverride(sub);
}

/** Runs the CLI on `args` (argv without node and script) and returns the exit code. */
export async function run(args: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with a CommanderError whose exitCode is 0. Anything else is a usage error,
      // a group called without a subcommand (which prints its help) included.
      return e.exitCode === 0 ? 0 : 2;
    }
    throw e;
  }
  return takeExitCode();
}
