/**
 * The operator actions the dashboard offers, in the same words as the CLI: the confirmation says what
 * `upkeep admin rollout ACTION --help` and `upkeep admin release critical --help` say the action does, and
 * the result is the line the CLI prints after it (test/dashboard.test.ts checks the words against the
 * compiled CLI's help). Pure.
 */
import type { GroupAction, RolloutView } from "../wire/views.ts";

/** Button label and what the action does (the CLI's description of `admin rollout ACTION`). */
export const GROUP_ACTION_WORDS: Record<GroupAction, { label: string; does: string }> = {
  start: {
    label: "Start",
    does: "start a group now (order and wait_hours still hold; canaries first if configured)",
  },
  force: { label: "Force", does: "make a group active now, skipping its window, order, wait and canaries" },
  done: { label: "Mark done", does: "mark a group done (e.g. to let a halt-on-error rollout go past it)" },
  rollback: { label: "Roll back", does: "serve the group start_version again, with agent_auto_update true" },
};

/** `admin release critical VERSION [--off]`: what each does. */
export const CRITICAL_WORDS = {
  on: "flag a release critical: agents apply it outside their maintenance windows",
  off: "remove the flag (a manifest's own critical flag stays)",
} as const;

/** The confirmation of a group action: the command it stands for and what it does. */
export function confirmGroupAction(group: string, action: GroupAction): { title: string; text: string } {
  return {
    title: `${GROUP_ACTION_WORDS[action].label} group ${group}?`,
    text: `upkeep admin rollout ${action} ${group}: ${GROUP_ACTION_WORDS[action].does}.`,
  };
}

/** The confirmation of `release critical` on or off. */
export function confirmCritical(version: string, critical: boolean): { title: string; text: string } {
  return critical
    ? {
        title: `Flag ${version} critical?`,
        text: `upkeep admin release critical ${version}: ${CRITICAL_WORDS.on}.`,
      }
    : {
        title: `Remove the critical flag of ${version}?`,
        text: `upkeep admin release critical ${version} --off: ${CRITICAL_WORDS.off}.`,
      };
}

/** What the CLI prints after a group action: `group prod: active (its window is open: active)`. */
export function groupActionResult(view: RolloutView, group: string, action: GroupAction): string {
  const g = view.groups.find((x) => x.name === group);
  return g ? `group ${g.name}: ${g.state} (${g.reason})` : `group ${group}: ${action} accepted`;
}

/** What the CLI prints after `release critical`. */
export function criticalResult(critical: readonly string[]): string {
  return `critical releases: ${critical.length ? critical.join(", ") : "none"}`;
}
