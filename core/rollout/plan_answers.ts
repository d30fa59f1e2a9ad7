import type { CompatPolicy } from "../compat/types.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import { sameVersion } from "../version/same_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import { nextWindowOpen } from "../window/next_window_open.ts";
import { iso, toMs } from "./_util.ts";
import { adjustAgentVersion, decideAgent } from "./decide_agent.ts";
import { decideTools } from "./decide_tools.ts";
import { groupWindow } from "./group_window.ts";
import { reconcile } from "./reconcile.ts";
import { seededRandom } from "./seeded_random.ts";
import type {
  AgentReport,
  GroupAgents,
  GroupState,
  Rollout,
  RolloutEvent,
  VersionAdjustment,
} from "./types.ts";

export type PlanAnswersInput = {
  config: AutoupdateConfig;
  /** The version resource to plan for (`undefined`: none set). */
  version: AutoupdateVersion | undefined;
  /** The control plane's version, or `undefined` (no control plane: no cap, no raise). */
  serverVersion: string | undefined;
  /**
   * The versions the published signed release manifest lists, or `undefined` when this server publishes
   * none (then nothing is checked: `unpublished` is empty).
   */
  published: readonly string[] | undefined;
  /** The stored rollout: the plan continues it (same versions and strategy) or starts a new one. */
  rollout?: Rollout | undefined;
  /** The PRESENT agents' last reports (canary choice, counts, `done`). Default: none. */
  agents?: readonly AgentReport[];
  /** Instead of `agents`: each group's present agents as the server counts them (see `reconcile`). */
  counted?: (group: string) => GroupAgents;
  now: Date | number;
  /** Versions flagged critical (by an operator or the manifest). */
  critical?: readonly string[];
  /** Canary choice (default: a fixed seed, so a dry run is reproducible). */
  random?: () => number;
  policy?: CompatPolicy;
};

/** One answer: the version named (`""`: none), whether to update now, why, and any cap or raise. */
export type AnswerPlan = {
  version: string;
  update: boolean;
  why: string;
  adjusted: VersionAdjustment | null;
};

/** What the agents of one group are told right after the resources are applied. */
export type GroupPlan = AnswerPlan & {
  group: string;
  state: GroupState;
  /** The rollout's reason for the state (e.g. `waiting for its window: next opens ...`); "" with no rollout. */
  stateReason: string;
  /** When the group's window next opens (ISO 8601, strictly after `now`). */
  nextWindowOpen: string;
  /** What the group's canaries are told (while it has canaries), else null. */
  canary: AnswerPlan | null;
};

/** A version hosts or developers may be told under the plan, what names it, and whether it is published. */
export type PlannedVersion = {
  version: string;
  /** e.g. `spec.agents.target_version`, `spec.agents.start_version 14.0.0 raised to 16.4.0 (server_version)`. */
  uses: string[];
  /** Listed in the published manifest (always true when no manifest is published: nothing to check). */
  published: boolean;
};

export type PlanAnswers = {
  /** The rollout as the reconciler leaves it right after the apply (`undefined`: no `spec.agents`). */
  rollout: Rollout | undefined;
  /** What the apply would change in the rollout (a new rollout, transitions, canaries). */
  events: RolloutEvent[];
  /** One per group of `autoupdate_config`, in schedule order. */
  groups: GroupPlan[];
  /** What client tools are told. */
  tools: AnswerPlan;
  /**
   * Every version the resources make hosts or developers install: the agents' start and target versions
   * and the tools target, each after the server's cap or raise. (Tools told the server version because no
   * tools target is set are not listed: no resource names that version.)
   */
  versions: PlannedVersion[];
  /** The `versions` not in `published` (empty when `published` is `undefined`). */
  unpublished: PlannedVersion[];
  /** The published versions, oldest first (empty when none). */
  published: string[];
};

/**
 * What each group (and client tools) would be told if `config` + `version` were applied now, with every
 * cap or raise `serverVersion` makes and the versions that are not in the published manifest. Pure: the
 * server's `admin apply --dry-run` prints it, and `admin apply` refuses a plan with `unpublished` versions
 * (unless forced).
 *
 * The rollout is advanced one reconcile step from `rollout` (a new version pair starts a new one, every
 * group `unstarted`, then groups whose window is open start), exactly as the server does after an apply.
 */
export function planAnswers(input: PlanAnswersInput): PlanAnswers {
  const { config, version, serverVersion, policy } = input;
  const now = toMs(input.now);
  const critical = new Set(input.critical ?? []);
  const target = version?.spec.agents?.targetVersion;
  const isCritical = target !== undefined && [...critical].some((c) => sameVersion(c, target));
  const { rollout, events } = reconcile({
    config,
    version,
    rollout: input.rollout,
    agents: input.agents ?? [],
    ...(input.counted ? { counted: input.counted } : {}),
    serverVersion,
    now,
    random: input.random ?? seededRandom(1),
    critical: isCritical,
    ...(policy ? { policy } : {}),
  });
  const answer = (group: string, updaterId: string): AnswerPlan => {
    const d = decideAgent({
      config,
      version,
      groups: rollout?.groups ?? [],
      serverVersion,
      agentGroup: group,
      updaterId,
      now,
      critical: isCritical,
      ...(policy ? { policy } : {}),
    });
    return { version: d.agent_version, update: d.agent_auto_update, why: d.reason, adjusted: d.adjusted };
  };
  const groups = config.spec.agents.groups.map((gc): GroupPlan => {
    const status = rollout?.groups.find((g) => g.name === gc.name);
    const canaryId = status?.canaries[0]?.updaterId;
    return {
      group: gc.name,
      state: status?.state ?? "unstarted",
      stateReason: status?.reason ?? "",
      nextWindowOpen: iso(nextWindowOpen(groupWindow(config, gc), now).getTime()),
      ...answer(gc.name, ""),
      canary: canaryId === undefined ? null : answer(gc.name, canaryId),
    };
  });
  const t = decideTools({ config, version, serverVersion, ...(policy ? { policy } : {}) });
  const tools: AnswerPlan = {
    version: t.tools_version,
    update: t.tools_auto_update,
    why: t.reason,
    adjusted: t.adjusted,
  };

  const published = sortedVersions(input.published ?? []);
  const versions = plannedVersions(input, tools, published);
  return {
    rollout,
    events,
    groups,
    tools,
    versions,
    unpublished: versions.filter((v) => !v.published),
    published,
  };
}

/**
 * The versions the set makes hosts and developers install (agents' start and target, the tools target, each
 * after any server_version cap or raise), with what names each and whether the manifest lists it.
 */
function plannedVersions(input: PlanAnswersInput, tools: AnswerPlan, published: string[]): PlannedVersion[] {
  const { version, serverVersion, policy } = input;
  const isPublished = (v: string) =>
    input.published === undefined || published.some((p) => sameVersion(p, v));
  const versions: PlannedVersion[] = [];
  const add = (v: string, use: string) => {
    const known = versions.find((x) => sameVersion(x.version, v));
    if (known) known.uses.push(use);
    else versions.push({ version: v, uses: [use], published: isPublished(v) });
  };
  const server = serverVersion === undefined ? undefined : parseVersion(serverVersion);
  const agents = version?.spec.agents;
  if (agents !== undefined) {
    for (const [field, v] of [
      ["spec.agents.start_version", agents.startVersion],
      ["spec.agents.target_version", agents.targetVersion],
    ] as const) {
      const adj = adjustAgentVersion(parseVersion(v), server, policy);
      add(adj ? adj.to : v, adj ? `${field} ${adj.from} ${adj.kind} to ${adj.to} (server_version)` : field);
    }
  }
  if (version?.spec.tools !== undefined) {
    const adj = tools.adjusted;
    add(
      tools.version,
      adj
        ? `spec.tools.target_version ${adj.from} ${adj.kind} to ${adj.to} (server_version)`
        : "spec.tools.target_version",
    );
  }
  return versions;
}

/** Valid versions, normalized, deduplicated, oldest first. */
function sortedVersions(list: readonly string[]): string[] {
  const parsed = list.flatMap((v) => {
    const p = tryParseVersion(v);
    return p ? [p] : [];
  });
  parsed.sort(compareVersions);
  const out: string[] = [];
  for (const p of parsed) {
    const s = formatVersion(p);
    if (!out.some((o) => sameVersion(o, s))) out.push(s);
  }
  return out;
}
