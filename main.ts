/**
 * upkeep entry point. Parses argv, calls the command, maps errors to exit codes.
 * Only this file calls `process.exit`.
 *
 * Start-up matters (`tools` shims run on every invocation of a client tool), so nothing heavy is imported
 * here: the CLI framework and each command's module load lazily, after the fast paths.
 */
import { isUpkeepError } from "./core/errors.ts";
import pkg from "./package.json" with { type: "json" };

async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  const debug = args.includes("--debug") || process.env.UPKEEP_DEBUG === "1";
  const rest = args.filter((a) => a !== "--debug");

  // Fast path: no CLI framework for the version.
  if (rest.length === 1 && (rest[0] === "--version" || rest[0] === "-V")) {
    process.stdout.write(`upkeep ${pkg.version}\n`);
    return 0;
  }

  try {
    const { run } = await import("./cmd/cli.ts");
    return await run(rest, pkg.version);
  } catch (e) {
    return report(e, debug);
  }
}

/** Prints one actionable line for a known error (a stack trace only with --debug) and picks the exit code. */
function report(e: unknown, debug: boolean): number {
  if (isUpkeepError(e)) {
    const hint = e.hint ? `\n  ${e.hint}` : "";
    process.stderr.write(`upkeep: ${e.message} (${e.code})${hint}\n`);
    if (debug) process.stderr.write(`${e.stack ?? ""}\n${e.cause ? `cause: ${String(e.cause)}\n` : ""}`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`upkeep: internal error: ${message} (E_INTERNAL)\n`);
  if (debug && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write("  Run again with --debug for details, and report it if it persists.\n");
  return 70;
}

main(process.argv).then(
  (code) => process.exit(code),
  (e) => process.exit(report(e, true)),
);
