/**
 * Rollout decisions (DESIGN §3), pure: what each agent and client tool is told, the group state machine
 * the server drives with `reconcile`, and the operator actions (start, force, done, rollback).
 *
 * ```ts
 * const { rollout, events } = reconcile({ config, version, rollout: stored, agents, serverVersion, now, random: Math.random });
 * const answer = decideAgent({ config, version, groups: rollout?.groups ?? [], serverVersion, agentGroup, updaterId, now });
 * ```
 *
 * @module
 */
export * from "./choose_canaries.ts";
export * from "./create_rollout.ts";
export * from "./decide_agent.ts";
export * from "./decide_tools.ts";
export * from "./effective_agent_mode.ts";
export * from "./force_group.ts";
export * from "./group_window.ts";
export * from "./mark_group_done.ts";
export * from "./plan_answers.ts";
export * from "./reconcile.ts";
export * from "./resolve_group.ts";
export * from "./rollback_group.ts";
export * from "./rollout_state.ts";
export * from "./seeded_random.ts";
export * from "./start_group.ts";
export * from "./types.ts";
