/**
 * The API views of the server's state (`GET /v1/rollout`, `/v1/server`, `/v1/agents`), typed in core/wire.
 * Pure functions of the state RolloutService holds.
 */
import { adjustAgentVersion, effectiveAgentMode, rolloutState } from "../core/rollout/mod.ts";
import type { GroupStatus } from "../core/rollout/types.ts";
import { parseVersion } from "../core/version/parse_version.ts";
import type {
  AdjustmentView,
  EventView,
  GroupView,
  RolloutView,
  ServerInfo,
  ServerView,
  ToolsView,
} from "../core/wire/mod.ts";
import { type RolloutState, tellAgent, tellTools } from "./answers.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The rollout for `admin get rollout`. Besides the stored state, what each group's agents are told now
 * (`effective_version`, `auto_update`, `answer`), with every cap or raise `server_version` makes
 * (`adjusted: {kind, from, to, why}`, null when none), the same for client tools (`tools`), and the
 * target the counts are judged against (`effective_target_version`, `target_adjusted`).
 */
export function rolloutView(s: RolloutState, now: number, events: EventView[]): RolloutView {
  const r = s.rollout;
  const server = s.serverVersion;
  const target = s.version?.spec.agents?.targetVersion;
  let tools: ToolsView | null = null;
  try {
    const t = tellTools(s);
    tools = {
      version: t.tools_version,
      auto_update: t.tools_auto_update,
      reason: t.reason,
      adjusted: t.adjusted,
    };
  } catch {}
  const targetAdjusted = target === undefined ? null : adjust(target, server);
  return {
    start_version: r?.startVersion ?? null,
    target_version: r?.targetVersion ?? null,
    effective_target_version: targetAdjusted ? targetAdjusted.to : (target ?? null),
    target_adjusted: targetAdjusted,
    strategy: r?.strategy ?? s.config.spec.agents.strategy,
    schedule: s.version?.spec.agents?.schedule ?? null,
    mode: s.version?.spec.agents?.mode ?? null,
    effective_mode: r === undefined ? null : effectiveAgentMode(s.config, s.version),
    state: rolloutState(r?.groups ?? []) ?? null,
    server_version: server ?? null,
    server_cap:
      server === undefined
        ? "none: server_version is not set, agents and tools get the rollout's versions as given"
        : `agents are capped at server_version ${server} and raised to it when too old to work with it`,
    started_at: r ? iso(r.startedAt) : null,
    tools,
    groups: (r?.groups ?? []).map((g, i, all) => groupView(s, g, now, i === all.length - 1)),
    events,
    adjusted: adjustments(s, tools),
  };
}

function groupView(s: RolloutState, g: GroupStatus, now: number, catchAll: boolean): GroupView {
  let d: ReturnType<typeof tellAgent> | undefined;
  try {
    d = tellAgent(s, g.name, "", now);
  } catch {
    d = undefined;
  }
  return {
    name: g.name,
    state: g.state,
    effective_version: d?.agent_version ?? null,
    auto_update: d?.agent_auto_update ?? false,
    answer: d?.reason ?? "internal error: do not update",
    adjusted: d?.adjusted ?? null,
    start_time: g.startTime === undefined ? null : iso(g.startTime),
    last_transition: iso(g.lastTransition),
    reason: g.reason,
    canaries: g.canaries.map((c) => ({ updater_id: c.updaterId, hostname: c.hostname, success: c.success })),
    initial_count: g.initialCount,
    present_count: g.presentCount,
    up_to_date_count: g.upToDateCount,
    failed_count: g.failedCount,
    forced: g.forced === true,
    catch_all: catchAll,
    canary_count: s.config.spec.agents.groups.find((c) => c.name === g.name)?.canaryCount ?? 0,
    canary_success_count: g.canaries.filter((c) => c.success).length,
  };
}

/** Every cap or raise the server version makes to the versions the resources name (none when unset). */
function adjustments(s: RolloutState, tools: ToolsView | null): AdjustmentView[] {
  const out: AdjustmentView[] = [];
  const agents = s.version?.spec.agents;
  for (const [field, v] of [
    ["spec.agents.start_version", agents?.startVersion],
    ["spec.agents.target_version", agents?.targetVersion],
  ] as const) {
    const a = v === undefined ? null : adjust(v, s.serverVersion);
    if (a) out.push({ field, ...a });
  }
  if (s.version?.spec.tools && tools?.adjusted)
    out.push({ field: "spec.tools.target_version", ...tools.adjusted });
  return out;
}

function adjust(version: string, server: string | undefined) {
  return adjustAgentVersion(parseVersion(version), server === undefined ? undefined : parseVersion(server));
}

/** What agents' updaters are told to run (DESIGN §9): the setting, the version (`""`: none) and why. */
export interface UpdaterAnswer {
  setting: string;
  version: string;
  reason: string;
}

/** `GET /v1/server`. */
export function serverView(
  info: ServerInfo,
  serverVersion: string | undefined,
  ownVersion: string | undefined,
  updater: UpdaterAnswer,
): ServerView {
  return {
    server_version: serverVersion ?? null,
    product: info.product,
    cluster_name: info.clusterName,
    edition: info.edition,
    fips: info.fips,
    upkeep_version: ownVersion ?? null,
    updater_version_setting: updater.setting,
    updater_version: updater.version === "" ? null : updater.version,
    updater_version_reason: updater.reason,
  };
}
