import type { Problem } from "../validate/mod.ts";
import { load } from "./_check.ts";
import { BadResourceError } from "./bad_resource_error.ts";
import { parseAutoupdateConfig } from "./parse_autoupdate_config.ts";
import { parseAutoupdateVersion } from "./parse_autoupdate_version.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "./types.ts";

/**
 * Parses either resource, chosen by its `kind` (for `upkeep admin apply -f FILE`).
 *
 * @throws {BadResourceError} on bad text, an unknown or missing kind, or an invalid resource.
 */
export function parseResource(input: unknown): AutoupdateConfig | AutoupdateVersion {
  const ctx: { problems: Problem[] } = { problems: [] };
  const value = load(ctx, input);
  if (ctx.problems.length > 0) throw new BadResourceError("resource", ctx.problems);
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === "autoupdate_config") return parseAutoupdateConfig(value);
  if (kind === "autoupdate_version") return parseAutoupdateVersion(value);
  throw new BadResourceError("resource", [
    {
      path: "kind",
      message: `must be autoupdate_config or autoupdate_version (got ${kind === undefined ? "nothing" : JSON.stringify(kind)})`,
    },
  ]);
}
