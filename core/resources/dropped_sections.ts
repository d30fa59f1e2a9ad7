import { isRecord, type Problem } from "../validate/mod.ts";
import { load } from "./_check.ts";
import { defaultAutoupdateConfig } from "./default_autoupdate_config.ts";
import { formatAutoupdateConfig } from "./format_autoupdate_config.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "./types.ts";

/**
 * An apply replaces the whole resource, so a partial document would silently remove what it leaves out
 * (an `autoupdate_version` with only `spec.agents` dropped the tools target). This lists, as problems, every
 * section the STORED resource sets that the new document leaves out. A section is kept by repeating it, and
 * removed on purpose by writing it as `null` (`tools: null`): the document then says what it removes.
 *
 * Sections: `spec.tools` and `spec.agents` of either kind, and `spec.agents.schedules` of the config. A
 * section of `autoupdate_version` is set when it is present; one of `autoupdate_config` when it differs from
 * the default (a config left at its defaults loses nothing). Nothing stored: nothing to lose.
 *
 * `doc` is the document as sent (YAML/JSON text or the parsed value); an unreadable one yields no problem
 * here (the resource check reports it).
 */
export function droppedSections(
  stored: AutoupdateConfig | AutoupdateVersion | undefined,
  doc: unknown,
): Problem[] {
  if (stored === undefined) return [];
  const value = load({ problems: [] }, doc);
  if (!isRecord(value)) return [];
  const spec = isRecord(value.spec) ? value.spec : {};
  const out: Problem[] = [];
  const missing = (path: string, what: string, removal: string) =>
    out.push({
      path,
      message: `missing, but the stored ${stored.kind} sets it (${what}): an apply replaces the whole resource, so leaving it out would remove it; repeat it to keep it, or write \`${removal}\` to remove it on purpose`,
    });
  if (stored.kind === "autoupdate_version") {
    const tools = stored.spec.tools;
    if (tools !== undefined && !("tools" in spec))
      missing("spec.tools", `target_version ${tools.targetVersion}`, "tools: null");
    const agents = stored.spec.agents;
    if (agents !== undefined && !("agents" in spec))
      missing(
        "spec.agents",
        `start_version ${agents.startVersion}, target_version ${agents.targetVersion}`,
        "agents: null",
      );
    return out;
  }
  const now = formatAutoupdateConfig(stored).spec as { tools: unknown; agents: Record<string, unknown> };
  const dflt = formatAutoupdateConfig(defaultAutoupdateConfig()).spec as typeof now;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(now.tools, dflt.tools) && !("tools" in spec))
    missing("spec.tools", `mode ${stored.spec.tools.mode}`, "tools: null");
  const groups = `groups ${stored.spec.agents.groups.map((g) => g.name).join(", ")}`;
  if (!same(now.agents, dflt.agents) && !("agents" in spec)) {
    missing(
      "spec.agents",
      `mode ${stored.spec.agents.mode}, strategy ${stored.spec.agents.strategy}, ${groups}`,
      "agents: null",
    );
  } else if (
    isRecord(spec.agents) &&
    !same(now.agents.schedules, dflt.agents.schedules) &&
    !("schedules" in spec.agents)
  ) {
    missing("spec.agents.schedules", groups, "schedules: null");
  }
  return out;
}
