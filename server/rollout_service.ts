/**
 * The server's live state: resources, server version, rollout, agents. Decisions come from the pure core
 * (core/rollout); this class loads and persists state, drives the reconciler, and precomputes the find/ping
 * answers per group so the hot path does no database work. Every change invalidates the precomputed bodies.
 */

import { UpkeepError } from "../core/errors.ts";
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  BadResourceError,
  defaultAutoupdateConfig,
  droppedSections,
  formatAutoupdateConfig,
  formatAutoupdateVersion,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "../core/resources/mod.ts";
import * as engine from "../core/rollout/mod.ts";
import { adjustAgentVersion, decideAgent, decideTools, resolveGroup } from "../core/rollout/mod.ts";
import type { AgentReport, Rollout, RolloutEvent } from "../core/rollout/types.ts";
import { manifestFileName, parseManifest } from "../core/trust/manifest.ts";
import { expiryWarning } from "../core/trust/manifest_expiry.ts";
import { formatVersion } from "../core/version/format_version.ts";
import { parseVersion } from "../core/version/parse_version.ts";
import type { Metrics } from "./metrics.ts";
import type { AgentRecord, Store } from "./store.ts";

export interface ServerInfo {
  product: string;
  clusterName: string;
  edition: "oss" | "ent";
  fips: boolean;
  jitterSeconds: number;
  /**
   * How long client tools may cache the find answer before asking again (`upkeep.cache_seconds`; config key
   * tools_cache_seconds): how soon a developer's shell follows a new tools version. Default 300.
   */
  toolsCacheSeconds?: number;
}

export const DEFAULT_TOOLS_CACHE_SECONDS = 300;

export type GroupAction = "start" | "force" | "done" | "rollback";

export interface RolloutServiceOptions {
  store: Store;
  info: ServerInfo;
  /**
   * Used when nothing is stored yet (`--server-version`, config file). undefined and nothing stored: there
   * is no control plane version, so no cap and no raise: agents and tools get the rollout's versions as
   * given (and nothing at all until an autoupdate_version names them).
   */
  serverVersion: string | undefined;
  /** A flag given at start-up wins over the stored value. */
  serverVersionFromFlag?: boolean;
  now: () => Date;
  random?: () => number;
  /** Reads a stored artifact's text (the release manifest), or undefined when there is none. */
  readArtifact?: (name: string) => Promise<string | undefined>;
  /** Agents not seen for this long stop counting as present. */
  presenceMs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A group's precomputed answers: one body for every agent, and per-canary bodies. */
interface CachedGroup {
  body: string;
  canaries: Map<string, string>;
  /** Time-based answers depend on the clock: recompute at this instant (ms). */
  validUntil: number;
  /** Answers served (for /metrics), shared across recomputations of the group. */
  hits: { n: number };
  canaryHits: { n: number };
}

export class RolloutService {
  readonly #o: RolloutServiceOptions;
  #config: AutoupdateConfig = defaultAutoupdateConfig();
  #version: AutoupdateVersion | undefined;
  #serverVersion: string | undefined;
  #rollout: Rollout | undefined;
  #agents = new Map<string, AgentRecord>();
  /** Versions an operator flagged critical (POST /v1/releases). */
  #critical = new Set<string>();
  /** Versions the published release manifest flags critical, and what it lists. */
  #manifest:
    | { critical: Set<string>; serial: number; expires: string; floor: string | null; versions: string[] }
    | undefined;
  /** The manifest expiry last warned about in the log, and when (at most one warning a day for it). */
  #expiryWarned: { expires: string; at: number } | undefined;
  #ready = false;
  #cache = new Map<string, CachedGroup>();
  #lastReconcileMs = 0;
  #reconcileCount = 0;
  #findAnswers = new Map<string, { n: number }>();

  constructor(o: RolloutServiceOptions) {
    this.#o = o;
    this.#serverVersion = o.serverVersion;
  }

  async load(): Promise<void> {
    const { store } = this.#o;
    const config = await store.getResource("autoupdate_config");
    if (config !== undefined) this.#config = parseAutoupdateConfig(config);
    const version = await store.getResource("autoupdate_version");
    if (version !== undefined) this.#version = parseAutoupdateVersion(version);
    const sv = await store.getSetting("server_version");
    if (sv && !this.#o.serverVersionFromFlag) this.#serverVersion = sv;
    else if (this.#serverVersion !== undefined) await store.putSetting("server_version", this.#serverVersion);
    const critical = await store.getSetting("critical_versions");
    if (critical) for (const v of JSON.parse(critical) as string[]) this.#critical.add(v);
    await this.#readManifest();
    this.#rollout = (await store.getRollout()) as Rollout | undefined;
    for (const a of await store.listAgents()) this.#agents.set(a.updater_id, a);
    await this.reconcile();
    this.#ready = true;
  }

  ready(): boolean {
    return this.#ready;
  }

  // ---- resources ----

  getConfig(): Record<string, unknown> {
    return formatAutoupdateConfig(this.#config);
  }

  getVersion(): Record<string, unknown> | { kind: "autoupdate_version"; spec: Record<string, never> } {
    return this.#version ? formatAutoupdateVersion(this.#version) : { kind: "autoupdate_version", spec: {} };
  }

  /**
   * Stores a new `autoupdate_config`. With `doc` (the document as sent), a document that leaves out a
   * section the stored config sets is refused (`droppedSections`: E_BAD_RESOURCE naming it), not applied.
   */
  async putConfig(config: AutoupdateConfig, doc?: unknown): Promise<void> {
    if (doc !== undefined) refuseDropped("autoupdate_config", this.#config, doc);
    await this.#o.store.putResource("autoupdate_config", formatAutoupdateConfig(config));
    this.#config = config;
    this.#o.log("autoupdate_config updated");
    this.#invalidate();
    await this.reconcile();
  }

  /** Stores a new `autoupdate_version`; `doc` as for `putConfig`. */
  async putVersion(version: AutoupdateVersion, doc?: unknown): Promise<void> {
    if (doc !== undefined) refuseDropped("autoupdate_version", this.#version, doc);
    await this.#o.store.putResource("autoupdate_version", formatAutoupdateVersion(version));
    this.#version = version;
    this.#o.log("autoupdate_version updated", {
      start: version.spec.agents?.startVersion,
      target: version.spec.agents?.targetVersion,
    });
    this.#invalidate();
    await this.reconcile();
  }

  /** The control plane's version, or undefined while nobody has set it. */
  serverVersion(): string | undefined {
    return this.#serverVersion;
  }

  serverInfo(): Record<string, unknown> {
    const { info } = this.#o;
    return {
      server_version: this.#serverVersion ?? null,
      product: info.product,
      cluster_name: info.clusterName,
      edition: info.edition,
      fips: info.fips,
    };
  }

  async setServerVersion(v: string): Promise<void> {
    await this.#o.store.putSetting("server_version", v);
    this.#serverVersion = v;
    this.#o.log("server_version updated", { server_version: v });
    this.#invalidate();
    await this.reconcile();
  }

  async setCritical(version: string, critical: boolean): Promise<void> {
    const next = new Set(this.#critical);
    if (critical) next.add(version);
    else next.delete(version);
    // Stored first: a refused write changes nothing in memory either.
    await this.#o.store.putSetting("critical_versions", JSON.stringify([...next].sort()));
    this.#critical = next;
    this.#invalidate();
    await this.reconcile();
  }

  /** A release or manifest was uploaded: re-read the manifest's critical flags. */
  async artifactsChanged(): Promise<void> {
    const before = JSON.stringify([...(this.#manifest?.critical ?? [])]);
    await this.#readManifest();
    if (JSON.stringify([...(this.#manifest?.critical ?? [])]) !== before) {
      this.#invalidate();
      await this.reconcile();
    }
  }

  /**
   * The published manifest is informational here (the server holds no trust keys; hosts verify it): it
   * supplies the `critical` flags a release engineer set with `upkeep release manifest --critical`.
   */
  async #readManifest(): Promise<void> {
    const text = await this.#o.readArtifact?.(manifestFileName(this.#o.info.product)).catch(() => undefined);
    if (text === undefined) return;
    try {
      const m = parseManifest(text, { product: this.#o.info.product });
      this.#manifest = {
        critical: new Set(m.releases.filter((r) => r.critical).map((r) => r.version)),
        serial: m.serial,
        expires: m.expires,
        floor: m.floor ?? null,
        versions: m.releases.map((r) => r.version),
      };
      this.#warnExpiry();
    } catch (e) {
      this.#o.log("release manifest ignored: it does not parse", { error: (e as Error).message });
    }
  }

  /**
   * Hosts stop updating when the published manifest expires: in its last week (and after), the log says so
   * when it is read and then once a day (checked at each reconcile).
   */
  #warnExpiry(): void {
    const m = this.#manifest;
    if (!m) return;
    const now = this.#o.now();
    const warning = expiryWarning(this.#o.info.product, m.expires, now);
    if (!warning) return;
    const last = this.#expiryWarned;
    if (last && last.expires === m.expires && now.getTime() - last.at < 86_400_000) return;
    this.#expiryWarned = { expires: m.expires, at: now.getTime() };
    this.#o.log(`WARNING: ${warning}`, { expires: m.expires, serial: m.serial });
  }

  #isCritical(version: string): boolean {
    return this.#critical.has(version) || this.#manifest?.critical.has(version) === true;
  }

  async releases(): Promise<Record<string, unknown>> {
    const artifacts = await this.#o.store.listArtifacts();
    return {
      product: this.#o.info.product,
      critical: [...new Set([...this.#critical, ...(this.#manifest?.critical ?? [])])].sort(),
      manifest: this.#manifest
        ? {
            serial: this.#manifest.serial,
            expires: this.#manifest.expires,
            floor: this.#manifest.floor,
            versions: this.#manifest.versions,
            warning: expiryWarning(this.#o.info.product, this.#manifest.expires, this.#o.now()) ?? null,
          }
        : null,
      artifacts,
    };
  }

  /** The versions the published release manifest lists, or undefined when none is published (or parses). */
  publishedVersions(): string[] | undefined {
    return this.#manifest?.versions;
  }

  // ---- agents ----

  async report(r: AgentRecord): Promise<void> {
    await this.#o.store.upsertAgent(r);
    this.#agents.set(r.updater_id, r);
    await this.reconcile();
  }

  async agents(): Promise<(AgentRecord & { present: boolean })[]> {
    const now = this.#o.now().getTime();
    return [...this.#agents.values()]
      .sort((a, b) => a.updater_id.localeCompare(b.updater_id))
      .map((a) => ({ ...a, present: this.#isPresent(a, now) }));
  }

  #isPresent(a: AgentRecord, now: number): boolean {
    return now - Date.parse(a.last_seen) <= this.#o.presenceMs;
  }

  #presentReports(now: number): AgentReport[] {
    const out: AgentReport[] = [];
    for (const a of this.#agents.values()) {
      if (!this.#isPresent(a, now)) continue;
      const failed = a.state === "failed" || a.state === "rolledback";
      out.push({
        updaterId: a.updater_id,
        hostname: a.hostname,
        group: a.group,
        version: a.version,
        healthy: a.state === "ok",
        ...(failed ? { failedVersion: a.failed_version ?? a.version } : {}),
      });
    }
    return out;
  }

  // ---- rollout ----

  /** Runs the reconciler once: pure decisions from the core, then persistence and logging. */
  async reconcile(): Promise<void> {
    const t0 = performance.now();
    const now = this.#o.now();
    const agents = this.#version?.spec.agents;
    let next = this.#rollout;
    let events: RolloutEvent[] = [];
    if (!agents) {
      next = undefined;
    } else {
      const r = engine.reconcile({
        config: this.#config,
        version: this.#version,
        rollout: this.#rollout,
        agents: this.#presentReports(now.getTime()),
        serverVersion: this.#serverVersion,
        now,
        random: this.#o.random ?? Math.random,
        critical: this.#isCritical(agents.targetVersion),
      });
      next = r.rollout;
      events = r.events;
    }
    // The core returns the same rollout object when nothing changed: the precomputed answers stay valid
    // (clock-dependent ones expire on their own). Callers that change other inputs invalidate first.
    if (next !== this.#rollout) {
      // Stored first: when the store refuses, the rollout does not move (answers stay what is on disk).
      await this.#o.store.putRollout(next ?? null);
      this.#rollout = next;
      this.#invalidate();
    }
    await this.#record(events);
    this.#warnExpiry();
    this.#lastReconcileMs = performance.now() - t0;
    this.#reconcileCount++;
  }

  async #record(events: RolloutEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#o.store.appendEvents(
      events.map((e) => ({
        time: new Date(e.at).toISOString(),
        group: e.group ?? "",
        from: e.from ?? "",
        to: e.to ?? "",
        reason: e.message,
      })),
    );
    for (const e of events) this.#o.log(`rollout: ${e.message}`, { group: e.group, from: e.from, to: e.to });
  }

  async action(group: string, action: GroupAction): Promise<void> {
    if (!this.#rollout) {
      throw new UpkeepError("E_CONFLICT", "no rollout in progress: set autoupdate_version spec.agents first");
    }
    const now = this.#o.now();
    const input = { rollout: this.#rollout, group, now, config: this.#config };
    const { rollout, event } =
      action === "start"
        ? engine.startGroup(input)
        : action === "force"
          ? engine.forceGroup(input)
          : action === "done"
            ? engine.markGroupDone(input)
            : engine.rollbackGroup(input);
    await this.#o.store.putRollout(rollout);
    this.#rollout = rollout;
    this.#invalidate();
    await this.#record([event]);
    await this.reconcile();
    const after = this.#rollout?.groups.find((g) => g.name === group);
    if (action === "start" && after?.state === "rolledback") {
      throw new UpkeepError("E_CONFLICT", `group ${group} rolled back again at once: ${after.reason}`, {
        hint: `agents still report failures on ${this.#rollout?.targetVersion}; use force to proceed anyway, or fix the release`,
      });
    }
  }

  /**
   * What applying `next` would tell each group and client tools, over the server's current state (stored
   * rollout, present agents, critical flags, the published manifest's versions): `planAnswers` in core.
   * Whatever `next` leaves out is taken as it is now. Changes nothing (for `admin apply --dry-run`, and the
   * refusal of versions that are not published).
   */
  plan(
    next: { config?: AutoupdateConfig; version?: AutoupdateVersion; serverVersion?: string } = {},
  ): engine.PlanAnswers {
    return engine.planAnswers({
      config: next.config ?? this.#config,
      version: next.version ?? this.#version,
      serverVersion: next.serverVersion ?? this.#serverVersion,
      published: this.#manifest?.versions,
      rollout: this.#rollout,
      agents: this.#presentReports(this.#o.now().getTime()),
      now: this.#o.now(),
      critical: [...this.#critical, ...(this.#manifest?.critical ?? [])],
    });
  }

  /**
   * The rollout for `admin get rollout`. Besides the stored state, what each group's agents are told now
   * (`effective_version`, `auto_update`, `answer`), with every cap or raise `server_version` makes
   * (`adjusted: {kind, from, to, why}`, null when none), the same for client tools (`tools`), and the
   * target the counts are judged against (`effective_target_version`, `target_adjusted`).
   */
  async view(): Promise<Record<string, unknown>> {
    const r = this.#rollout;
    const events = await this.#o.store.listEvents(100);
    const now = this.#o.now().getTime();
    const server = this.#serverVersion;
    const target = this.#version?.spec.agents?.targetVersion;
    const critical = target !== undefined && this.#isCritical(target);
    const told = (group: string) => {
      try {
        return decideAgent({
          config: this.#config,
          version: this.#version,
          groups: r?.groups ?? [],
          serverVersion: server,
          agentGroup: group,
          now,
          critical,
        });
      } catch {
        return undefined;
      }
    };
    let tools: Record<string, unknown> | null = null;
    try {
      const t = decideTools({ config: this.#config, version: this.#version, serverVersion: server });
      tools = {
        version: t.tools_version,
        auto_update: t.tools_auto_update,
        reason: t.reason,
        adjusted: t.adjusted,
      };
    } catch {}
    const targetAdjusted =
      target === undefined ? null : adjustAgentVersion(parseVersion(target), parseOptional(server));
    return {
      start_version: r?.startVersion ?? null,
      target_version: r?.targetVersion ?? null,
      effective_target_version: targetAdjusted ? targetAdjusted.to : (target ?? null),
      target_adjusted: targetAdjusted,
      strategy: r?.strategy ?? this.#config.spec.agents.strategy,
      schedule: this.#version?.spec.agents?.schedule ?? null,
      mode: this.#version?.spec.agents?.mode ?? null,
      server_version: server ?? null,
      server_cap:
        server === undefined
          ? "none: server_version is not set, agents and tools get the rollout's versions as given"
          : `agents are capped at server_version ${server} and raised to it when too old to work with it`,
      started_at: r ? new Date(r.startedAt).toISOString() : null,
      tools,
      groups: (r?.groups ?? []).map((g) => {
        const d = told(g.name);
        return {
          name: g.name,
          state: g.state,
          effective_version: d?.agent_version ?? null,
          auto_update: d?.agent_auto_update ?? false,
          answer: d?.reason ?? "internal error: do not update",
          adjusted: d?.adjusted ?? null,
          start_time: g.startTime === undefined ? null : new Date(g.startTime).toISOString(),
          last_transition: new Date(g.lastTransition).toISOString(),
          reason: g.reason,
          canaries: g.canaries.map((c) => ({
            updater_id: c.updaterId,
            hostname: c.hostname,
            success: c.success,
          })),
          initial_count: g.initialCount,
          present_count: g.presentCount,
          up_to_date_count: g.upToDateCount,
          failed_count: g.failedCount,
          forced: g.forced === true,
        };
      }),
      events,
      adjusted: this.#adjustments(),
    };
  }

  /** Every cap or raise the server version makes to the versions the resources name (none when unset). */
  #adjustments(): Record<string, unknown>[] {
    const server = this.#serverVersion === undefined ? undefined : parseVersion(this.#serverVersion);
    const out: Record<string, unknown>[] = [];
    const agents = this.#version?.spec.agents;
    for (const [field, v] of [
      ["spec.agents.start_version", agents?.startVersion],
      ["spec.agents.target_version", agents?.targetVersion],
    ] as const) {
      const a = v === undefined ? null : engine.adjustAgentVersion(parseVersion(v), server);
      if (a) out.push({ field, ...a });
    }
    const tools = this.#version?.spec.tools ? this.plan().tools.adjusted : null;
    if (tools) out.push({ field: "spec.tools.target_version", ...tools });
    return out;
  }

  // ---- find / ping ----

  #invalidate(): void {
    this.#cache.clear();
  }

  /** The JSON body of `/webapi/find` for an agent of `group` (unknown: the last group). Never throws. */
  findBody(group: string, updaterId: string): string {
    const now = this.#o.now().getTime();
    let resolved: string;
    try {
      resolved = resolveGroup(this.#config, group).name;
    } catch {
      resolved = group;
    }
    let cached = this.#cache.get(resolved);
    if (!cached || now >= cached.validUntil) {
      cached = this.#compute(resolved, now);
      this.#cache.set(resolved, cached);
    }
    const canary = updaterId ? cached.canaries.get(updaterId) : undefined;
    if (canary !== undefined) {
      cached.canaryHits.n++;
      return canary;
    }
    cached.hits.n++;
    return cached.body;
  }

  #hits(group: string, kind: "" | "canary"): { n: number } {
    const key = `${group}\u0000${kind}`;
    let c = this.#findAnswers.get(key);
    if (!c) {
      c = { n: 0 };
      this.#findAnswers.set(key, c);
    }
    return c;
  }

  #compute(group: string, now: number): CachedGroup {
    // Answers that depend on the clock (windows) are recomputed every minute.
    const validUntil = Math.floor(now / 60_000) * 60_000 + 60_000;
    const canaries = new Map<string, string>();
    const status = this.#rollout?.groups.find((g) => g.name === group);
    const body = this.#answer(group, "", now);
    for (const c of status?.canaries ?? []) canaries.set(c.updaterId, this.#answer(group, c.updaterId, now));
    return {
      body,
      canaries,
      validUntil,
      hits: this.#hits(group, ""),
      canaryHits: this.#hits(group, "canary"),
    };
  }

  #answer(group: string, updaterId: string, now: number): string {
    const { info } = this.#o;
    const server = this.#serverVersion;
    const base = {
      server_version: server ?? "",
      min_client_version: server === undefined ? "" : minClientVersion(server),
      cluster_name: info.clusterName,
      edition: info.edition,
      fips: info.fips,
    };
    try {
      const tools = decideTools({ config: this.#config, version: this.#version, serverVersion: server });
      const target = this.#version?.spec.agents?.targetVersion;
      const agent = decideAgent({
        config: this.#config,
        version: this.#version,
        groups: this.#rollout?.groups ?? [],
        serverVersion: server,
        agentGroup: group,
        updaterId,
        now,
        critical: target !== undefined && this.#isCritical(target),
      });
      return JSON.stringify({
        ...base,
        auto_update: {
          tools_version: tools.tools_version,
          tools_auto_update: tools.tools_auto_update,
          agent_version: agent.agent_version,
          agent_auto_update: agent.agent_auto_update,
          agent_update_jitter_seconds: info.jitterSeconds,
        },
        upkeep: {
          product: info.product,
          artifact: agent.agent_version === "" ? "" : artifactTemplate(info, agent.agent_version),
          critical: agent.agent_version !== "" && this.#isCritical(agent.agent_version),
          group: agent.group,
          group_state: agent.group_state,
          canary: agent.canary,
          capped: agent.capped,
          adjusted: agent.adjusted,
          mode: agent.mode,
          reason: agent.reason,
          tools_reason: tools.reason,
          tools_adjusted: tools.adjusted,
          cache_seconds: info.toolsCacheSeconds ?? DEFAULT_TOOLS_CACHE_SECONDS,
        },
      });
    } catch (e) {
      // On an internal error the answer is "do not update".
      this.#o.log("find: internal error, answering do-not-update", { group, error: String(e) });
      return JSON.stringify({
        ...base,
        auto_update: {
          tools_version: server ?? "",
          tools_auto_update: false,
          agent_version: server ?? "",
          agent_auto_update: false,
          agent_update_jitter_seconds: info.jitterSeconds,
        },
        upkeep: {
          product: info.product,
          group,
          reason: "internal error: do not update",
          error: true,
          cache_seconds: info.toolsCacheSeconds ?? DEFAULT_TOOLS_CACHE_SECONDS,
        },
      });
    }
  }

  exportMetrics(m: Metrics): void {
    const now = this.#o.now().getTime();
    const byAgent = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const a of this.#agents.values()) {
      if (!this.#isPresent(a, now)) continue;
      // The group a report names is the agent's word (any string an agent token sends): counted, as in the
      // rollout, under the group it resolves to (unknown or empty: the last group), so the label values are
      // the configured groups and a token cannot grow the metric without bound.
      const labels = { group: resolveGroup(this.#config, a.group).name, version: a.version, state: a.state };
      const k = JSON.stringify(labels);
      const row = byAgent.get(k) ?? { labels, value: 0 };
      row.value++;
      byAgent.set(k, row);
    }
    m.setGauge("upkeep_agents", "present agents by group, version and state", [...byAgent.values()]);
    m.setGauge(
      "upkeep_rollout_group_state",
      "1 for the current state of each rollout group",
      (this.#rollout?.groups ?? []).map((g) => ({ labels: { group: g.name, state: g.state }, value: 1 })),
    );
    m.setGauge("upkeep_reconcile_duration_seconds", "duration of the last reconcile", [
      { labels: {}, value: this.#lastReconcileMs / 1000 },
    ]);
    m.setGauge("upkeep_reconciles", "reconciles run since start", [
      { labels: {}, value: this.#reconcileCount },
    ]);
    const finds: { labels: Record<string, string>; value: number }[] = [];
    for (const [k, { n }] of this.#findAnswers) {
      if (n === 0) continue;
      const [group = "", kind = ""] = k.split("\u0000");
      const cached = this.#cache.get(group);
      let version = "";
      let should = "";
      try {
        const body = JSON.parse(
          kind === "canary" ? ([...(cached?.canaries.values() ?? [])][0] ?? "{}") : (cached?.body ?? "{}"),
        );
        version = body.auto_update?.agent_version ?? "";
        should = String(body.auto_update?.agent_auto_update ?? "");
      } catch {}
      finds.push({
        labels: { group, canary: kind === "canary" ? "true" : "false", version, should_update: should },
        value: n,
      });
    }
    m.setGauge(
      "upkeep_find_answers",
      "find/ping answers served since start, by group, version and should-update",
      finds,
    );
  }
}

/** The oldest client the server accepts: one major below (modern line), as Teleport reports it. */
export function minClientVersion(server: string): string {
  const v = parseVersion(server);
  return formatVersion({ major: Math.max(0, v.major - 1), minor: 0, patch: 0, prerelease: [], build: [] });
}

function refuseDropped(
  kind: "autoupdate_config" | "autoupdate_version",
  stored: AutoupdateConfig | AutoupdateVersion | undefined,
  doc: unknown,
): void {
  const problems = droppedSections(stored, doc);
  if (problems.length > 0) throw new BadResourceError(kind, problems);
}

function parseOptional(v: string | undefined) {
  return v === undefined ? undefined : parseVersion(v);
}

function artifactTemplate(info: ServerInfo, version: string): string {
  const edition = info.edition === "ent" ? "-ent" : "";
  const fips = info.fips ? "-fips" : "";
  return `${info.product}${edition}-v${version}-{os}-{arch}${fips}-bin.tar.gz`;
}
