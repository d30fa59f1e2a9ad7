import { capAgentVersion } from "../compat/cap_agent_version.ts";
import type { CompatPolicy } from "../compat/types.ts";
import type { AutoupdateConfig, AutoupdateVersion } from "../resources/types.ts";
import { formatVersion } from "../version/format_version.ts";
import { parseVersion } from "../version/parse_version.ts";
import type { SemVer } from "../version/types.ts";
import { currentWindow } from "../window/current_window.ts";
import { nextWindowOpen } from "../window/next_window_open.ts";
import { iso, toMs } from "./_util.ts";
import { effectiveAgentMode } from "./effective_agent_mode.ts";
import { groupWindow } from "./group_window.ts";
import { resolveGroup } from "./resolve_group.ts";
import type { AgentDecision, GroupState, GroupStatus, VersionAdjustment } from "./types.ts";

export type DecideAgentInput = {
  config: AutoupdateConfig;
  /** `undefined` (or no `spec.agents`): no version policy yet: agents are told no version (`""`), no update. */
  version: AutoupdateVersion | undefined;
  /** The rollout's group statuses (`rollout.groups`); a group missing here counts as `unstarted`. */
  groups: readonly GroupStatus[];
  /**
   * The control plane's version: agents are capped at it and raised to it (`capAgentVersion`). `undefined`
   * (a product without a control plane): no cap and no raise, the rollout's versions as given.
   */
  serverVersion: string | undefined;
  /** The group the agent names; unknown or empty means the last group. */
  agentGroup?: string;
  /** The agent's updater id, to recognize canaries. */
  updaterId?: string;
  now: Date | number;
  /** The target release is flagged critical: applied outside windows. */
  critical?: boolean;
  policy?: CompatPolicy;
};

/**
 * What one agent is told (DESIGN §3). The matrix, by the state of the agent's group:
 *
 * | state      | agent_version                      | agent_auto_update                                      |
 * | ---------- | ---------------------------------- | ------------------------------------------------------ |
 * | unstarted  | start                              | false                                                  |
 * | canary     | target for a canary, else start    | true for a canary only                                 |
 * | active     | target                             | true                                                   |
 * | done       | target                             | halt-on-error: true; time-based: inside its window     |
 * |            |                                    | (or for a critical release), else false                |
 * | rolledback | start                              | true                                                   |
 *
 * Then, in order:
 * - `schedule: immediate`: every agent is told target, true — except in a group the operator rolled
 *   back, which keeps start, true (an explicit rollback wins over the schedule).
 * - mode `suspended` (Teleport's `getTriggerFromRollout`): the versions above, `agent_auto_update` false
 *   everywhere, a `rolledback` group included (nothing moves while suspended, back or forth).
 * - mode `disabled` (Teleport's `getVersionFromRollout`): `target_version` to every group, whatever its
 *   state, and `agent_auto_update` false everywhere: what a new host installs, no update of existing ones.
 * - when `serverVersion` is set, the version is capped at it (and raised to it when too old to work with
 *   it) by `capAgentVersion`; `capped`, `adjusted` and the reason say so. Without it, no cap, no raise.
 * - no `spec.agents` (no version policy yet): no version at all (`""`) and no update, whatever the server
 *   version: an `agent enable` before any policy installs nothing.
 *
 * Throws on an unparsable version (validated resources never have one): the server answers "do not
 * update" on any error.
 */
export function decideAgent(input: DecideAgentInput): AgentDecision {
  const { config, version, groups, serverVersion, updaterId, critical = false } = input;
  const now = toMs(input.now);
  const group = resolveGroup(config, input.agentGroup);
  const status = groups.find((g) => g.name === group.name);
  const state: GroupState = status?.state ?? "unstarted";
  const mode = effectiveAgentMode(config, version);
  const agents = version?.spec.agents;
  const server = serverVersion === undefined ? undefined : parseVersion(serverVersion);
  const placed =
    input.agentGroup === group.name
      ? `group ${group.name} is ${state}`
      : `${input.agentGroup ? `unknown group ${JSON.stringify(input.agentGroup)}` : "no group given"}: placed in the last group ${group.name}, which is ${state}`;
  const isCanary =
    updaterId !== undefined &&
    updaterId !== "" &&
    (status?.canaries ?? []).some((c) => c.updaterId === updaterId);

  if (agents === undefined) {
    return {
      agent_version: "",
      agent_auto_update: false,
      reason: NO_AGENT_POLICY,
      group: group.name,
      group_state: state,
      capped: false,
      adjusted: null,
      mode,
      canary: isCanary,
    };
  }

  let [useTarget, auto, why] = scheduleChoice({ config, group, state, isCanary, now, critical, agents });
  if (mode === "disabled") {
    [useTarget, auto, why] = [true, false, "agent updates are disabled: the target version, no update"];
  } else if (mode === "suspended") {
    [auto, why] = [false, `${why}; but agent updates are suspended (the rollout is frozen): no update`];
  }

  const wanted = parseVersion(useTarget ? agents.targetVersion : agents.startVersion);
  const adjusted = adjustAgentVersion(wanted, server, input.policy);
  return {
    agent_version: adjusted ? adjusted.to : formatVersion(wanted),
    agent_auto_update: auto,
    reason: `${placed}: ${why}${adjusted ? `; ${adjusted.why}` : ""}`,
    group: group.name,
    group_state: state,
    capped: adjusted !== null,
    adjusted,
    mode,
    canary: isCanary,
  };
}

type Choice = [useTarget: boolean, auto: boolean, why: string];

/** Start or target, update now or not, and why: from the schedule and the group's state. */
function scheduleChoice(c: {
  config: DecideAgentInput["config"];
  group: ReturnType<typeof resolveGroup>;
  state: GroupState;
  isCanary: boolean;
  now: number;
  critical: boolean;
  agents: { schedule: string };
}): Choice {
  if (c.agents.schedule === "immediate")
    return c.state !== "rolledback"
      ? [true, true, "schedule immediate: update to the target now"]
      : [false, true, "return to the start version (a rollback wins over schedule immediate)"];
  switch (c.state) {
    case "unstarted":
      return [false, false, "stay on the start version, no update"];
    case "canary":
      return c.isCanary
        ? [true, true, "this agent is a canary: update to the target"]
        : [false, false, "not a canary: wait on the start version"];
    case "active":
      return [true, true, "update to the target"];
    case "done":
      return doneChoice(c);
    case "rolledback":
      return [false, true, "return to the start version"];
  }
}

/** A done group: halt-on-error updates at once; time-based only inside its window (or a critical release). */
function doneChoice(c: {
  config: DecideAgentInput["config"];
  group: ReturnType<typeof resolveGroup>;
  now: number;
  critical: boolean;
}): Choice {
  if (c.config.spec.agents.strategy === "halt-on-error") return [true, true, "update to the target"];
  const w = groupWindow(c.config, c.group);
  const span = currentWindow(w, c.now);
  if (span !== undefined)
    return [true, true, `inside its window (until ${iso(span.end.getTime())}): update to the target`];
  if (c.critical)
    return [true, true, "outside its window, but the release is critical: update to the target"];
  return [
    true,
    false,
    `outside its window: the target, no update before the next window opens ${iso(nextWindowOpen(w, c.now).getTime())}`,
  ];
}

/** The reason an agent gets before any version policy exists. */
export const NO_AGENT_POLICY =
  "no version policy yet: autoupdate_version has no spec.agents (start_version, target_version: upkeep admin apply -f version.yaml): no version, no update";

/**
 * The cap or raise `server` makes to an agent version (`capAgentVersion`), or null when it serves the
 * version unchanged or there is no server version (no cap, no raise).
 */
export function adjustAgentVersion(
  wanted: SemVer,
  server: SemVer | undefined,
  policy?: CompatPolicy,
): VersionAdjustment | null {
  if (server === undefined) return null;
  const cap = capAgentVersion(wanted, server, policy);
  if (cap.direction === "none") return null;
  return {
    kind: cap.direction,
    from: formatVersion(wanted),
    to: formatVersion(cap.version),
    why: cap.reason,
  };
}
