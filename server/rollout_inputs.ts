/**
 * What the rollout's decisions are made from, as stored: the resources (`autoupdate_config`,
 * `autoupdate_version`), the control plane's `server_version`, the versions flagged critical (by an operator,
 * or by the published release manifest), and the updater setting (updater_setting.ts). Each is loaded at
 * start, written by an operator (stored first: a refused write changes nothing held), and re-read when
 * another replica changed it (`refresh`). RolloutService decides over them.
 */
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  defaultAutoupdateConfig,
  formatAutoupdateConfig,
  formatAutoupdateVersion,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "../core/resources/mod.ts";
import { manifestFileName } from "../core/trust/manifest.ts";
import type { ServerInfo } from "../core/wire/mod.ts";
import { PublishedManifest } from "./published_manifest.ts";
import { refuseDropped } from "./rollout_writes.ts";
import type { Store } from "./store.ts";
import { UpdaterSetting } from "./updater_setting.ts";

export interface RolloutInputsOptions {
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
  /**
   * This server's own upkeep version: by default agents' updaters are told to run it once the published
   * upkeep-releases.json lists it (DESIGN §9). undefined: no default (an admin may still pin one).
   */
  ownVersion?: string;
  now: () => Date;
  /** Reads a stored artifact's text (the release manifest), or undefined when there is none. */
  readArtifact?: (name: string) => Promise<string | undefined>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Replicas: several servers share the store. */
  shared?: boolean;
}

/** `has(what)`: whether a refresh re-reads `what` ("resource:KIND", "setting:KEY", "artifacts"). */
export type Has = (what: string) => boolean;

export class RolloutInputs {
  readonly #o: RolloutInputsOptions;
  /** Told of every new config (the fleet counts agents by its groups). */
  readonly #onConfig: (config: AutoupdateConfig) => void;
  #config: AutoupdateConfig = defaultAutoupdateConfig();
  #version: AutoupdateVersion | undefined;
  #serverVersion: string | undefined;
  /** Versions an operator flagged critical (POST /v1/releases). */
  #critical = new Set<string>();
  /** The product's published release manifest: its versions and critical flags. */
  readonly manifest: PublishedManifest;
  /** What agents' updaters are told to run. */
  readonly updater: UpdaterSetting;

  constructor(o: RolloutInputsOptions, onConfig: (config: AutoupdateConfig) => void) {
    this.#o = o;
    this.#onConfig = onConfig;
    this.#serverVersion = o.serverVersion;
    this.manifest = new PublishedManifest(o.info.product, o.log);
    this.updater = new UpdaterSetting({ ...o, product: o.info.product });
  }

  get config(): AutoupdateConfig {
    return this.#config;
  }

  get version(): AutoupdateVersion | undefined {
    return this.#version;
  }

  /** The control plane's version, or undefined while nobody has set it. */
  get serverVersion(): string | undefined {
    return this.#serverVersion;
  }

  /** Reads everything stored (at start); a `server_version` given and none stored is stored. */
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
    if (this.#o.shared) this.manifest.readAt(await this.#manifestStored());
    await this.manifest.read(this.#o.readArtifact, this.#o.now());
    await this.updater.load();
  }

  /** Re-reads what `has` names (another replica may have changed it). True when anything changed. */
  async refresh(has: Has): Promise<boolean> {
    const { store } = this.#o;
    let changed = false;
    if (has("resource:autoupdate_config")) {
      const stored = await store.getResource("autoupdate_config");
      const next = stored === undefined ? defaultAutoupdateConfig() : parseAutoupdateConfig(stored);
      if (
        JSON.stringify(formatAutoupdateConfig(next)) !== JSON.stringify(formatAutoupdateConfig(this.#config))
      ) {
        this.#config = next;
        this.#onConfig(next);
        changed = true;
      }
    }
    if (has("resource:autoupdate_version")) {
      const stored = await store.getResource("autoupdate_version");
      const next = stored === undefined ? undefined : parseAutoupdateVersion(stored);
      const same = (v: AutoupdateVersion | undefined) =>
        v ? JSON.stringify(formatAutoupdateVersion(v)) : "";
      if (same(next) !== same(this.#version)) {
        this.#version = next;
        changed = true;
      }
    }
    if (await this.#refreshSettings(has)) changed = true;
    // What updaters are told (find answers; no decision depends on it).
    if (await this.updater.refresh(has)) changed = true;
    return changed;
  }

  async #refreshSettings(has: Has): Promise<boolean> {
    const { store } = this.#o;
    let changed = false;
    if (has("setting:server_version")) {
      const sv = await store.getSetting("server_version");
      if (sv && sv !== this.#serverVersion) {
        this.#serverVersion = sv;
        changed = true;
      }
    }
    if (has("setting:critical_versions")) {
      const stored = await store.getSetting("critical_versions");
      const next = new Set(stored ? (JSON.parse(stored) as string[]) : []);
      if ([...next].sort().join() !== [...this.#critical].sort().join()) {
        this.#critical = next;
        changed = true;
      }
    }
    // Another replica published a manifest (the stored sha256 moved): read it (once per publication).
    if (has("artifacts")) {
      const sha = await this.#manifestStored();
      if (await this.manifest.follow(sha, this.#o.readArtifact, this.#o.now())) changed = true;
    }
    return changed;
  }

  /** The sha256 of the release manifest the store lists, or undefined when none is published. */
  async #manifestStored(): Promise<string | undefined> {
    return (await this.#o.store.getArtifact(manifestFileName(this.#o.info.product)))?.sha256;
  }

  /**
   * Stores a new `autoupdate_config`. With `doc` (the document as sent), a document that leaves out a
   * section the stored config sets is refused (`droppedSections`: E_BAD_RESOURCE naming it), not applied.
   */
  async putConfig(config: AutoupdateConfig, doc?: unknown): Promise<void> {
    if (doc !== undefined) refuseDropped("autoupdate_config", this.#config, doc);
    await this.#o.store.putResource("autoupdate_config", formatAutoupdateConfig(config));
    this.#config = config;
    this.#onConfig(config);
    this.#o.log("autoupdate_config updated");
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
  }

  async setServerVersion(v: string): Promise<void> {
    await this.#o.store.putSetting("server_version", v);
    this.#serverVersion = v;
    this.#o.log("server_version updated", { server_version: v });
  }

  async setCritical(version: string, critical: boolean): Promise<void> {
    const next = new Set(this.#critical);
    if (critical) next.add(version);
    else next.delete(version);
    // Stored first: a refused write changes nothing in memory either.
    await this.#o.store.putSetting("critical_versions", JSON.stringify([...next].sort()));
    this.#critical = next;
  }

  /**
   * A release or manifest was uploaded here: both manifests read again. `updater`: what updaters are told
   * changed; `critical`: the product manifest's critical flags changed.
   */
  async artifactsChanged(): Promise<{ updater: boolean; critical: boolean }> {
    const before = this.updater.answer().version;
    await this.updater.readManifest();
    const updater = this.updater.answer().version !== before;
    const critical = await this.manifest.read(this.#o.readArtifact, this.#o.now());
    return { updater, critical };
  }

  isCritical(version: string): boolean {
    return this.#critical.has(version) || this.manifest.critical.has(version);
  }

  /** Flagged critical by an operator or by the published manifest. */
  allCritical(): string[] {
    return [...new Set([...this.#critical, ...this.manifest.critical])].sort();
  }
}
