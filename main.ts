/**
 * upkeep entry point. Parses argv, calls the command, maps errors to exit codes.
 * Only this file calls `process.exit`.
 *
 * Start-up matters (`tools` shims run on every invocation of a client tool), so nothing heavy is imported
 * here: the CLI framework and each command's module load lazily, after the fast paths. Output here goes
 * through `console`: touching `process.stdout` in Bun loads Node's stream machinery (~18 ms measured).
 */
import { isUpkeepError } from "./core/errors.ts";
// Static on purpose: the shim path is the hot one, and a separate chunk costs a load (~0.4 ms measured).
// It imports only Bun-native I/O and the small pure tools/version modules.
import { UPKEEP_VERSION as version } from "./core/sys/self/build_info.ts";
import { execTool } from "./core/sys/tools/exec_tool.ts";
import { printable } from "./core/text/printable.ts";

/** The name upkeep was started under: a shim link's name (`tsh`, `hello`) makes it run that tool. */
function invokedAs(argv0: string): string {
  const base = argv0.slice(argv0.lastIndexOf("/") + 1);
  return base === "bun" || base.startsWith("upkeep") ? "upkeep" : base;
}

/** The client-tools fast path: no CLI framework, no network when the cached answer is fresh. */
function runToolFastPath(tool: string, args: string[], debug: boolean): Promise<number> {
  let tty: boolean | undefined;
  return execTool(tool, args, process.env, {
    // node:tty costs ~7 ms to load: only when a prompt or a progress bar is about to be drawn.
    tty: () => {
      tty ??= require("node:tty").isatty(0) && require("node:tty").isatty(2);
      return tty === true;
    },
    warn: (line) => console.error(printable(line)), // a warning is one line, whatever a server put in it
    now: () => new Date(),
  }).catch((e) => report(e, debug));
}

/** Everything but the shims: the CLI, loaded lazily. */
async function main(args: string[], debug: boolean): Promise<number> {
  const rest = args.filter((a) => a !== "--debug");
  const wantDebug = debug || rest.length !== args.length;

  // Fast path: no CLI framework for the version.
  if (rest.length === 1 && (rest[0] === "--version" || rest[0] === "-V")) {
    console.log(`upkeep ${version}`);
    return 0;
  }

  try {
    const { run } = await import("./cmd/cli.ts");
    return await run(rest, version);
  } catch (e) {
    return report(e, wantDebug);
  }
}

/** Prints one actionable line for a known error (a stack trace only with --debug) and picks the exit code. */
function report(e: unknown, debug: boolean): number {
  if (isUpkeepError(e)) {
    // One line and at most one hint line, whatever a server or a file put in the message.
    const hint = e.hint ? `\n  ${printable(e.hint)}` : "";
    console.error(`upkeep: ${printable(e.message)} (${e.code})${hint}`);
    if (debug) console.error(`${e.stack ?? ""}${e.cause ? `\ncause: ${String(e.cause)}` : ""}`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  console.error(`upkeep: internal error: ${printable(message)} (E_INTERNAL)`);
  if (debug && e instanceof Error) console.error(e.stack);
  else console.error("  Run again with --debug for details, and report it if it persists.");
  return 70;
}

/**
 * Which path: a shim (`tsh ARGS` where tsh -> upkeep acts as `upkeep tools exec tsh ARGS`, arguments
 * untouched), `tools exec`, or the CLI.
 */
function start(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  const debug = process.env.UPKEEP_DEBUG === "1";
  const name = invokedAs(process.argv0);
  if (name !== "upkeep") return runToolFastPath(name, args, debug);
  if (args[0] === "tools" && args[1] === "exec" && args[2] !== undefined && !args[2].startsWith("-")) {
    return runToolFastPath(args[2], args.slice(3), debug);
  }
  return main(args, debug);
}

start(process.argv).then(
  (code) => process.exit(code),
  (e) => process.exit(report(e, true)),
);
