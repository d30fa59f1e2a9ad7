import type { ProblemList } from "../validate/mod.ts";
import { envelope, mapping, oneOf, version } from "./_check.ts";
import { AGENT_MODES, AGENT_SCHEDULES, type AutoupdateVersion, type CheckResult } from "./types.ts";

/**
 * Validates an `autoupdate_version` given as YAML/JSON text or an already-parsed object. Versions accept
 * a leading `v` and are returned normalized without it. `spec.tools` and `spec.agents` are optional (`null`
 * is the same as absent: a section removed on purpose, see `droppedSections`); when `spec.agents` is given,
 * `start_version` and `target_version` are required. Returns EVERY problem found.
 */
export function checkAutoupdateVersion(input: unknown): CheckResult<AutoupdateVersion> {
  const ctx: ProblemList = { problems: [] };
  const env = envelope(ctx, input, "autoupdate_version");
  if (env === undefined) return { ok: false, problems: ctx.problems };
  const value: AutoupdateVersion = { kind: "autoupdate_version", metadata: env.metadata, spec: {} };
  if (env.spec !== undefined) {
    const spec = mapping(ctx, env.spec, "spec", ["tools", "agents"]);
    // `null` is a section removed on purpose (see droppedSections): absent.
    if (spec?.tools !== undefined && spec.tools !== null) {
      const tools = mapping(ctx, spec.tools, "spec.tools", ["target_version"]);
      if (tools !== undefined) {
        const targetVersion = version(ctx, tools, "target_version", "spec.tools");
        if (targetVersion !== undefined) value.spec.tools = { targetVersion };
      }
    }
    if (spec?.agents !== undefined && spec.agents !== null) {
      const path = "spec.agents";
      const agents = mapping(ctx, spec.agents, path, ["start_version", "target_version", "schedule", "mode"]);
      if (agents !== undefined) {
        const startVersion = version(ctx, agents, "start_version", path);
        const targetVersion = version(ctx, agents, "target_version", path);
        const schedule = oneOf(ctx, agents, "schedule", path, AGENT_SCHEDULES, "regular");
        const mode = oneOf(ctx, agents, "mode", path, AGENT_MODES, "enabled");
        if (startVersion !== undefined && targetVersion !== undefined) {
          value.spec.agents = { startVersion, targetVersion, schedule, mode };
        }
      }
    }
  }
  if (ctx.problems.length > 0) return { ok: false, problems: ctx.problems };
  return { ok: true, value };
}
