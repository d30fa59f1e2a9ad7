/**
 * `upkeep self-update`: a workstation's upkeep follows its server (DESIGN §9). Flags only; the work is in
 * core/sys/self/self_update.ts, loaded inside the action.
 *
 *     upkeep self-update [--server URL] [--version V] [--base-url URL] [--self-trust-key PUB]... [--insecure]
 *                        [--check] [--json]
 */
import type { Command } from "commander";
import type { JsonFlag } from "./output.ts";

interface SelfUpdateFlags extends JsonFlag {
  server?: string;
  version?: string;
  baseUrl?: string;
  selfTrustKey?: string[];
  insecure?: boolean;
  check?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command, runningVersion: string): void {
  program
    .command("self-update")
    .description(
      "replace this upkeep executable by the version its server names (signed by upkeep's release key, verified)",
    )
    .option(
      "--server <url>",
      "the upkeep server to ask (default: UPKEEP_SERVER, then `upkeep tools login`'s)",
    )
    .option("--version <version>", "install this upkeep version instead of the one the server names")
    .option(
      "--base-url <url>",
      "where upkeep's releases are downloaded (default: the tools login's, then the server's /artifacts)",
    )
    .option(
      "--self-trust-key <pub>",
      "also trust this key for upkeep's own releases (a fork, an internal build); repeatable",
      collect,
    )
    .option("--insecure", "allow plain http to a non-loopback server")
    .option("--check", "only say whether an update is due; change nothing")
    .option("--json", "print {path, from, to, updated, reason} as JSON")
    .action(async (opts: SelfUpdateFlags) => {
      const [{ selfUpdate }, { jsonFailure, report, warn }] = await Promise.all([
        import("../core/sys/self/self_update.ts"),
        import("./output.ts"),
      ]);
      const result = await jsonFailure(opts, () =>
        selfUpdate({
          executable: process.execPath,
          runningVersion,
          ...(opts.version === undefined ? {} : { version: opts.version }),
          ...(opts.server === undefined ? {} : { server: opts.server }),
          ...(opts.baseUrl === undefined ? {} : { baseUrl: opts.baseUrl }),
          trustKeys: opts.selfTrustKey ?? [],
          insecure: opts.insecure === true,
          check: opts.check === true,
          env: process.env,
          log: (line) => {
            if (!opts.json) warn(line);
          },
        }),
      );
      report(opts, result, (r) =>
        r.updated ? `upkeep updated: ${r.from} -> ${r.to} (${r.path})` : `${r.reason ?? "nothing to do"}`,
      );
    });
}
