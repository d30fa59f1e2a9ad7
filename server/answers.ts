/**
 * What the server tells agents and client tools, from the rollout as it holds it now: the find bodies (for
 * FindCache) and the decisions the rollout view shows. The rules are in core (core/rollout decides,
 * core/wire words the answer); this joins them to the server's state.
 */
import type { AutoupdateConfig, AutoupdateVersion } from "../core/resources/mod.ts";
import { decideAgent, decideTools } from "../core/rollout/mod.ts";
import type { AgentDecision, GroupStatus, Rollout, ToolsDecision } from "../core/rollout/types.ts";
import { type FindBody, findBody, type ServerInfo } from "../core/wire/mod.ts";
import type { GroupAnswers } from "./find_cache.ts";

/** The server's rollout state now: what every answer and view is computed from. */
export interface RolloutState {
  config: AutoupdateConfig;
  version: AutoupdateVersion | undefined;
  rollout: Rollout | undefined;
  /** The control plane's version, or undefined while nobody has set it. */
  serverVersion: string | undefined;
  /** Flagged critical by an operator or by the published manifest. */
  isCritical: (version: string) => boolean;
  /** The upkeep version agents' updaters are told to run (`""`: do not self-update). */
  updaterVersion: string;
}

/**
 * The group states of the rollout held when it is the rollout of the versions and strategy held, else none
 * (every group unstarted, as the new rollout starts). Between a change of versions and the new rollout (its
 * reconcile, and with replicas the read of what the reconciling replica wrote), the old rollout's done groups
 * must not send their agents to the new target.
 */
function currentGroups(s: RolloutState): GroupStatus[] {
  const r = s.rollout;
  const av = s.version?.spec.agents;
  if (!r || !av) return r?.groups ?? [];
  const same =
    r.startVersion === av.startVersion &&
    r.targetVersion === av.targetVersion &&
    r.strategy === s.config.spec.agents.strategy;
  return same ? r.groups : [];
}

/** What an agent of `group` (unknown: the last group) with `updaterId` is told. Throws on a broken state. */
export function tellAgent(s: RolloutState, group: string, updaterId: string, now: number): AgentDecision {
  const target = s.version?.spec.agents?.targetVersion;
  return decideAgent({
    config: s.config,
    version: s.version,
    groups: currentGroups(s),
    serverVersion: s.serverVersion,
    agentGroup: group,
    updaterId,
    now,
    critical: target !== undefined && s.isCritical(target),
  });
}

/** What client tools are told. Throws on a broken state. */
export function tellTools(s: RolloutState): ToolsDecision {
  return decideTools({ config: s.config, version: s.version, serverVersion: s.serverVersion });
}

/**
 * The find answers of `group` (resolved): for any agent, and for each of its canaries. Never throws: an
 * answer that cannot be decided is "do not update" (`onError` is told why).
 */
export function groupAnswers(
  s: RolloutState,
  info: ServerInfo,
  group: string,
  now: number,
  onError: (error: unknown) => void,
): GroupAnswers {
  const answer = (updaterId: string): FindBody => {
    try {
      const tools = tellTools(s);
      const agent = tellAgent(s, group, updaterId, now);
      const critical = agent.agent_version !== "" && s.isCritical(agent.agent_version);
      return findBody(info, s.serverVersion, { agent, tools, critical }, s.updaterVersion);
    } catch (e) {
      onError(e);
      return findBody(info, s.serverVersion, { error: true, group });
    }
  };
  const status = currentGroups(s).find((g) => g.name === group);
  return {
    all: answer(""),
    canaries: (status?.canaries ?? []).map((c) => [c.updaterId, answer(c.updaterId)]),
  };
}
