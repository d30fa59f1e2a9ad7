/**
 * The updater updates itself (DESIGN §9, issue 16): the decisions of the agent's self-update pass, and the
 * state of `<install-dir>/updater/` (state.json) they work on. Pure.
 *
 *     <install-dir>/updater/versions/<v>/upkeep   an upkeep executable, checked (`--version`, `agent self-test`)
 *     <install-dir>/updater/current -> versions/<v> the one atomic switch point (the agent's bin link
 *                                                  `<bin-dir>/upkeep` points at current/upkeep)
 *     <install-dir>/updater/state.json             active, backup, skip, the intent of a switch on trial
 *
 * A switch is on trial until the new updater has completed a pass (its heartbeat commits it). The trial
 * fails, and the previous updater is restored and the new version skipped, when:
 *   - the new version starts a second time in one namespace without a heartbeat (it exited, crashed, was
 *     killed while on trial: a crash loop ends at its second start),
 *   - it has not completed a pass within TRIAL_MS of the switch (a hang: its own timer; or at a later start),
 *   - another version starts while `current` points at the new one (the operator or a supervisor started the
 *     previous executable by its own path).
 */
import { compareVersions, formatVersion, sameVersion, tryParseVersion } from "../version/mod.ts";
import { jitterMs } from "./decide.ts";

/** How long a new updater has to complete its first pass. */
export const TRIAL_MS = 60_000;

/** A switch of the updater not yet committed by a heartbeat of the new one. */
export interface SelfIntent {
  from: string;
  to: string;
  /** ISO time of the switch (recorded before it). */
  started: string;
  /** Starts of `to` per namespace loop since the switch (the hand-over's start is the first). */
  starts: Record<string, number>;
  /** Set before `current` is pointed back: the trial failed for this reason (a start finishes the restore). */
  restoring?: string;
}

export interface SelfState {
  /** The committed updater version (`current` points at it when no intent is recorded); "" before any. */
  active: string;
  /** The previous good one (kept on disk). */
  backup: string;
  /** Updater versions that failed here: never installed again automatically. */
  skip: string[];
  /** Highest serial of upkeep-releases.json seen (a lower one is a rollback attack). */
  manifestSerial: number;
  updating?: SelfIntent;
  /** The last version that failed here, reported as `updater_failed_version` until another one commits. */
  failed?: { version: string; reason: string };
  /** ISO time of the last heartbeat (a pass completed by the running updater). */
  heartbeat: string;
  lastResult: string;
  lastError: string;
}

export function emptySelfState(): SelfState {
  return {
    active: "",
    backup: "",
    skip: [],
    manifestSerial: 0,
    heartbeat: "",
    lastResult: "",
    lastError: "",
  };
}

const MAX_STATE_BYTES = 64 * 1024;

/** state.json's text (stable key order). */
export function formatSelfState(s: SelfState): string {
  const doc: Record<string, unknown> = {
    active: s.active,
    backup: s.backup,
    skip: s.skip,
    manifest_serial: s.manifestSerial,
    ...(s.updating
      ? {
          updating: {
            from: s.updating.from,
            to: s.updating.to,
            started: s.updating.started,
            starts: s.updating.starts,
            ...(s.updating.restoring ? { restoring: s.updating.restoring } : {}),
          },
        }
      : {}),
    ...(s.failed ? { failed: s.failed } : {}),
    heartbeat: s.heartbeat,
    last_result: s.lastResult,
    last_error: s.lastError,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Reads state.json; a field that is wrong is dropped (the file is the updater's own, rewritten at each
 * change): a damaged file must never stop the agent, it only forgets what it cannot read. Returns the state
 * and what was dropped.
 */
export function parseSelfState(text: string): { state: SelfState; problems: string[] } {
  const state = emptySelfState();
  const problems: string[] = [];
  if (text.length > MAX_STATE_BYTES) return { state, problems: ["larger than 64 KiB: ignored"] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { state, problems: ["not JSON: ignored"] };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return { state, problems: ["not a JSON object: ignored"] };
  const d = doc as Record<string, unknown>;
  const ver = (k: string, v: unknown): string => {
    if (v === undefined || v === "") return "";
    const p = typeof v === "string" ? tryParseVersion(v) : undefined;
    if (!p) problems.push(`${k}: not a version`);
    return p ? formatVersion(p) : "";
  };
  const str = (k: string, v: unknown): string => {
    if (v === undefined) return "";
    if (typeof v !== "string") problems.push(`${k}: not a string`);
    return typeof v === "string" ? v.slice(0, 4000) : "";
  };
  state.active = ver("active", d.active);
  state.backup = ver("backup", d.backup);
  if (Array.isArray(d.skip)) state.skip = d.skip.map((v, i) => ver(`skip[${i}]`, v)).filter((v) => v !== "");
  else if (d.skip !== undefined) problems.push("skip: not a list");
  const serial = d.manifest_serial;
  if (typeof serial === "number" && Number.isSafeInteger(serial) && serial >= 0)
    state.manifestSerial = serial;
  else if (serial !== undefined) problems.push("manifest_serial: not a whole number");
  const u = d.updating;
  if (typeof u === "object" && u !== null && !Array.isArray(u)) {
    const x = u as Record<string, unknown>;
    const to = ver("updating.to", x.to);
    const started = str("updating.started", x.started);
    const starts: Record<string, number> = {};
    if (typeof x.starts === "object" && x.starts !== null)
      for (const [ns, n] of Object.entries(x.starts as Record<string, unknown>))
        if (typeof n === "number" && Number.isInteger(n) && n >= 0) starts[ns] = n;
    const restoring = str("updating.restoring", x.restoring);
    if (to && !Number.isNaN(Date.parse(started)))
      state.updating = {
        from: ver("updating.from", x.from),
        to,
        started,
        starts,
        ...(restoring ? { restoring } : {}),
      };
    else problems.push("updating: incomplete");
  } else if (u !== undefined) problems.push("updating: not an object");
  const f = d.failed;
  if (typeof f === "object" && f !== null) {
    const x = f as Record<string, unknown>;
    const version = ver("failed.version", x.version);
    if (version) state.failed = { version, reason: str("failed.reason", x.reason) };
  }
  state.heartbeat = str("heartbeat", d.heartbeat);
  state.lastResult = str("last_result", d.last_result);
  state.lastError = str("last_error", d.last_error);
  return { state, problems };
}

export interface SelfDecideInput {
  /** This executable's version. */
  running: string;
  /** `upkeep.updater_version` of the find answer ("" or absent: the server names none). */
  wanted: string | undefined;
  spec: { enabled: boolean; pinned: boolean; selfUpdate: boolean };
  state: Pick<SelfState, "skip" | "updating">;
  /** The version `updater/current` points at (complete), undefined when none. */
  current: string | undefined;
  /** The server's jitter (find `agent_update_jitter_seconds`) and a random number in [0, 1). */
  jitter?: { seconds: number; random: number };
}

export type SelfDecision =
  | { action: "none"; reason: string }
  /**
   * Download, check, switch and hand over, after `waitMs` of the server's jitter (a fleet's updaters do not
   * all download at once; not bound to the product's window: the daemon is not restarted).
   */
  | { action: "install"; target: string; reason: string; waitMs: number }
  /** `current` already is the wanted version (another namespace's loop switched it): only hand over. */
  | { action: "handover"; target: string; reason: string };

/**
 * Whether this pass updates the updater. Not bound to the product's window (the daemon is not restarted);
 * a pinned agent still self-updates (pin is about the product); `--no-self-update` and `agent disable` stop it.
 */
export function decideSelfUpdate(i: SelfDecideInput): SelfDecision {
  const none = (reason: string): SelfDecision => ({ action: "none", reason });
  const wanted = i.wanted ?? "";
  if (wanted === "" || wanted === "off") return none("the server names no updater version");
  const parsed = tryParseVersion(wanted);
  if (!parsed)
    return none(`the server named updater version ${JSON.stringify(wanted)}: not a version, ignored`);
  const target = formatVersion(parsed);
  if (!i.spec.selfUpdate)
    return none(`self-update is off on this host (upkeep agent enable --self-update turns it on)`);
  if (!i.spec.enabled) return none("updates are disabled on this host (upkeep agent enable to re-enable)");
  if (sameVersion(i.running, target)) return none(`the updater is up to date on ${target}`);
  if (i.current !== undefined && sameVersion(i.current, target))
    return { action: "handover", target, reason: `the updater ${target} is installed: handing over to it` };
  if (i.state.skip.some((v) => sameVersion(v, target)))
    return none(`updater ${target} failed on this host before and is skipped`);
  if (i.state.updating && !sameVersion(i.state.updating.to, target))
    return none(`updater ${i.state.updating.to} is on trial: ${target} waits for its verdict`);
  const older = compareVersions(parsed, tryParseVersion(i.running) ?? parsed) < 0;
  return {
    action: "install",
    target,
    reason: `the server names updater ${target} (this one is ${i.running})${older ? ": going back" : ""}`,
    waitMs: i.jitter ? jitterMs(i.jitter.seconds, i.jitter.random) : 0,
  };
}

export interface SelfStartInput {
  state: SelfState;
  running: string;
  namespace: string;
  /** The version `updater/current` points at, undefined when none. */
  current: string | undefined;
  now: Date;
  trialMs?: number;
}

export type SelfStartPlan =
  | { action: "none" }
  /** The new updater is on trial: go on; restore unless a pass completes within `remainingMs`. */
  | { action: "trial"; state: SelfState; remainingMs: number }
  /**
   * The trial failed: point `current` back at `to` (the previous updater), skip and report `failed`; hand
   * over to `to` when it is not the running version.
   */
  | { action: "restore"; to: string; failed: string; reason: string; state: SelfState }
  /** A switch cut short before `current` moved (killed between the intent and the switch): forget it. */
  | { action: "undo"; state: SelfState };

/** What a starting `agent run` does about a switch of the updater left on trial. */
export function planSelfStart(i: SelfStartInput): SelfStartPlan {
  const u = i.state.updating;
  if (!u) return { action: "none" };
  const trialMs = i.trialMs ?? TRIAL_MS;
  // A restore cut short (killed on the way back): finished, whichever updater starts.
  if (u.restoring) return restorePlan(i.state, u.restoring);
  const switched = i.current !== undefined && sameVersion(i.current, u.to);
  if (!switched) {
    const { updating: _, ...rest } = i.state;
    return {
      action: "undo",
      state: { ...rest, lastResult: `the switch to updater ${u.to} was cut short: undone` },
    };
  }
  const age = i.now.getTime() - Date.parse(u.started);
  let reason: string | undefined;
  if (!sameVersion(i.running, u.to))
    reason = `updater ${u.to} did not come back: ${i.running} was started while it was on trial`;
  else if ((u.starts[i.namespace] ?? 0) >= 1)
    reason = `updater ${u.to} started again without completing a pass (it exited, crashed or was stopped)`;
  else if (age > trialMs)
    reason = `updater ${u.to} did not complete a pass within ${Math.round(trialMs / 1000)}s of the switch`;
  if (reason === undefined)
    return {
      action: "trial",
      state: { ...i.state, updating: { ...u, starts: { ...u.starts, [i.namespace]: 1 } } },
      remainingMs: Math.max(0, trialMs - Math.max(0, age)),
    };
  return restorePlan(i.state, reason);
}

/** The trial of `state.updating` failed for `reason`: back to its `from`, its `to` skipped and reported. */
export function restorePlan(state: SelfState, reason: string): SelfStartPlan & { action: "restore" } {
  const u = state.updating as SelfIntent;
  const { updating: _, ...rest } = state;
  return {
    action: "restore",
    to: u.from,
    failed: u.to,
    reason,
    state: {
      ...rest,
      active: u.from,
      skip: state.skip.some((v) => sameVersion(v, u.to)) ? state.skip : [...state.skip, u.to],
      failed: { version: u.to, reason },
      lastResult: `restored updater ${u.from}: ${reason}; ${u.to} is skipped`,
      lastError: reason,
    },
  };
}

/**
 * The heartbeat: a pass completed by the running updater. Commits a switch on trial to it (active, backup,
 * skip and failed cleared for it); otherwise only the time.
 */
export function heartbeat(state: SelfState, running: string, now: Date): SelfState {
  const u = state.updating;
  const t = now.toISOString();
  if (!u || !sameVersion(u.to, running)) return { ...state, heartbeat: t };
  // A committed switch ends the report of an earlier failed one (the server sees the new version).
  const { updating: _, failed: _f, ...rest } = state;
  return {
    ...rest,
    active: u.to,
    backup: u.from && !sameVersion(u.from, u.to) ? u.from : state.backup,
    skip: state.skip.filter((v) => !sameVersion(v, u.to)),
    heartbeat: t,
    lastResult: `updater ${u.to} came back (a pass completed): switch committed`,
    lastError: "",
  };
}

/** The version folders to keep under updater/versions/: active, backup, the trial's two, `current`'s. */
export function selfVersionsToKeep(state: SelfState, current: string | undefined, running: string): string[] {
  const keep = [
    state.active,
    state.backup,
    state.updating?.from ?? "",
    state.updating?.to ?? "",
    current ?? "",
    running,
  ];
  return [...new Set(keep.filter((v) => v !== ""))];
}
