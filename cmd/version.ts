/**
 * `upkeep version compat|plan`: the compatibility rules and upgrade plans of core/compat, for operators.
 *
 *     upkeep version compat --server 6.1.0 --client 5.9.2 [--available LIST] [--json]   # exit 0, 1, 2
 *     upkeep version compat --server 6.1.0 --agent 6.2.0 [--json]    # agents also never exceed the server
 *     upkeep version plan --from 5.2.0 --to 7.1.0 --available 6.0.0,6.3.1,7.1.0 [--json]
 */
import type { Command } from "commander";
import type { SemVer } from "../core/version/types.ts";

interface CompatOptions {
  server: string;
  client?: string;
  agent?: string;
  available?: string[];
  json?: boolean;
}

interface PlanOptions {
  from: string;
  to: string;
  available: string[];
  json?: boolean;
}

/** Commander collector: `--available a,b --available c` -> ["a,b", "c"] (split later). */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command): void {
  const version = program.command("version").description("version compatibility rules and upgrade plans");

  version
    .command("compat")
    .description(
      "is a client (or an agent) version compatible with a server version? exit 0 yes, 1 no, 2 bad input",
    )
    .requiredOption("--server <version>", "the server (control plane: Auth/Proxy) version")
    .option("--client <version>", "the client or node version to check")
    .option("--agent <version>", "check an agent instead: it must also never be newer than the server")
    .option(
      "--available <list>",
      "known releases, comma-separated or repeated; decides the last minor of a pre-5.0 major",
      collect,
    )
    .option("--json", 'print {"compatible": bool, "reason": "..."}')
    .action(async (opts: CompatOptions) => {
      const { UsageError } = await import("../core/errors.ts");
      const { checkAgentVersion, checkCompat, DEFAULT_COMPAT_POLICY } = await import("../core/compat/mod.ts");
      const { report } = await import("./output.ts");
      const { setExitCode } = await import("./context.ts");
      if ((opts.client === undefined) === (opts.agent === undefined)) {
        throw new UsageError(
          opts.client === undefined ? "missing --client (or --agent)" : "give --client or --agent, not both",
          { hint: "e.g. upkeep version compat --server 6.1.0 --client 5.9.2" },
        );
      }
      const server = await versionFlag("--server", opts.server);
      const releases =
        opts.available === undefined ? undefined : await versionList("--available", opts.available);
      const result =
        opts.agent !== undefined
          ? checkAgentVersion(
              server,
              await versionFlag("--agent", opts.agent),
              DEFAULT_COMPAT_POLICY,
              releases,
            )
          : checkCompat(
              server,
              await versionFlag("--client", opts.client ?? ""),
              DEFAULT_COMPAT_POLICY,
              releases,
            );
      report(opts, { compatible: result.compatible, reason: result.reason }, (r) =>
        r.compatible ? `compatible: ${r.reason}` : `not compatible: ${r.reason}`,
      );
      setExitCode(result.compatible ? 0 : 1);
    });

  version
    .command("plan")
    .description("the upgrade hops from one version to another, never skipping a compatibility step")
    .requiredOption("--from <version>", "the version running now")
    .requiredOption("--to <version>", "the target version (the plan's last hop)")
    .requiredOption("--available <list>", "released versions, comma-separated or repeated", collect)
    .option("--json", 'print {"steps": ["6.3.1", "7.1.0"]}')
    .action(async (opts: PlanOptions) => {
      const { planUpgrade } = await import("../core/compat/mod.ts");
      const { formatVersion } = await import("../core/version/mod.ts");
      const { report } = await import("./output.ts");
      const from = await versionFlag("--from", opts.from);
      const to = await versionFlag("--to", opts.to);
      const available = await versionList("--available", opts.available);
      // An impossible plan throws UpkeepError E_NO_PLAN: main.ts prints it and exits 1. With --json the
      // answer is also on stdout, as for `compat`: {"steps": null, "code", "reason"}.
      const { jsonFailure } = await import("./output.ts");
      const steps = await jsonFailure(opts, async () => planUpgrade(from, to, available).map(formatVersion), {
        steps: null,
      });
      report(opts, { steps }, (p) =>
        p.steps.length === 0 ? `already at ${formatVersion(to)}` : p.steps.join("\n"),
      );
    });
}

/** Parses a version flag, or throws a UsageError (exit 2) naming the flag and the value. */
async function versionFlag(flag: string, value: string): Promise<SemVer> {
  const { UsageError } = await import("../core/errors.ts");
  const { parseVersion } = await import("../core/version/mod.ts");
  try {
    return parseVersion(value);
  } catch (e) {
    throw new UsageError(`${flag}: ${e instanceof Error ? e.message : String(e)}`, {
      code: "E_BAD_VERSION",
      hint: "a version looks like 6.1.0 (semver 2.0; a leading v is accepted)",
    });
  }
}

/** Parses `--available` values: each comma-separated, blanks ignored. */
async function versionList(flag: string, values: string[]): Promise<SemVer[]> {
  const items = values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
  const out: SemVer[] = [];
  for (const item of items) out.push(await versionFlag(flag, item));
  return out;
}
