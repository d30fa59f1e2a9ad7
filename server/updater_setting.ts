/**
 * The upkeep version agents' updaters are told to run (find `upkeep.updater_version`, DESIGN §9), from the
 * `kind: server` `updater_version` setting and upkeep's own published manifest (upkeep-releases.json): the
 * updater versions hosts can install from this server.
 */
import { SELF_PRODUCT } from "../core/trust/artifact_name.ts";
import { manifestFileName } from "../core/trust/manifest.ts";
import { PublishedManifest } from "./published_manifest.ts";
import type { Store } from "./store.ts";
import type { UpdaterAnswer } from "./views.ts";

/** The `updater_version` setting: `auto` (default), `off`, or a pinned version. */
export const UPDATER_AUTO = "auto";
export const UPDATER_OFF = "off";

export interface UpdaterSettingOptions {
  store: Store;
  /** The product this server serves: when it is upkeep itself, there is no separate updater manifest. */
  product: string;
  /** This server's own upkeep version (the `auto` default), or undefined when not known. */
  ownVersion?: string;
  readArtifact?: (name: string) => Promise<string | undefined>;
  now: () => Date;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Replicas: several servers share the store (`refresh` follows what the others change). */
  shared?: boolean;
}

export class UpdaterSetting {
  readonly #o: UpdaterSettingOptions;
  /** `kind: server` `updater_version`: auto, off or a version. */
  #setting = UPDATER_AUTO;
  /** upkeep's own published manifest (upkeep-releases.json): the updater versions hosts can install. */
  readonly #manifest: PublishedManifest;

  constructor(o: UpdaterSettingOptions) {
    this.#o = o;
    this.#manifest = new PublishedManifest(SELF_PRODUCT, o.log);
  }

  /** Reads the stored setting (default `auto`) and upkeep-releases.json (at start). */
  async load(): Promise<void> {
    this.#setting = (await this.#o.store.getSetting("updater_version")) ?? UPDATER_AUTO;
    if (this.#o.shared && this.#hosted()) this.#manifest.readAt(await this.#manifestStored());
    await this.readManifest();
  }

  /** Reads upkeep-releases.json again (at start, and when an artifact was uploaded here). */
  async readManifest(): Promise<void> {
    if (this.#hosted()) await this.#manifest.read(this.#o.readArtifact, this.#o.now());
  }

  /**
   * Replicas: re-reads what `has` names that another replica changed: the setting
   * ("setting:updater_version"), and upkeep-releases.json when the sha256 the store lists for it moved
   * ("artifacts": read once per publication). True when the answer changed.
   */
  async refresh(has: (what: string) => boolean): Promise<boolean> {
    const before = JSON.stringify(this.answer());
    if (has("setting:updater_version"))
      this.#setting = (await this.#o.store.getSetting("updater_version")) ?? UPDATER_AUTO;
    if (has("artifacts") && this.#hosted())
      await this.#manifest.follow(await this.#manifestStored(), this.#o.readArtifact, this.#o.now());
    return JSON.stringify(this.answer()) !== before;
  }

  /** Whether upkeep-releases.json is a manifest of its own (a server of upkeep itself has just its product's). */
  #hosted(): boolean {
    return this.#o.product !== SELF_PRODUCT;
  }

  /** The sha256 of upkeep-releases.json the store lists, or undefined when none is published. */
  async #manifestStored(): Promise<string | undefined> {
    return (await this.#o.store.getArtifact(manifestFileName(SELF_PRODUCT)))?.sha256;
  }

  /** Stores the setting: `auto`, `off` or a version. */
  async put(v: string): Promise<void> {
    await this.#o.store.putSetting("updater_version", v);
    this.#setting = v;
    this.#o.log("updater_version updated", { updater_version: v, now: this.answer().version || "none" });
  }

  /**
   * The version and why: `off` none; a pinned version; `auto` this server's own version once the published
   * upkeep-releases.json lists it (the server hosts that release), else none.
   */
  answer(): UpdaterAnswer {
    const setting = this.#setting;
    if (setting === UPDATER_OFF)
      return { setting, version: "", reason: "off: the admin turned the updaters' self-update off" };
    if (setting !== UPDATER_AUTO)
      return { setting, version: setting, reason: `pinned by the admin to ${setting}` };
    const own = this.#o.ownVersion;
    const listed = this.#manifest.versions;
    if (own === undefined)
      return {
        setting,
        version: "",
        reason: "this server's own version is not known: pin one to self-update",
      };
    if (listed === undefined)
      return {
        setting,
        version: "",
        reason: `no upkeep-releases.json is published on this server: agents keep their updater (publish upkeep ${own} to have them follow this server)`,
      };
    if (!listed.includes(own))
      return {
        setting,
        version: "",
        reason: `the published upkeep-releases.json does not list this server's version ${own}: agents keep their updater`,
      };
    return { setting, version: own, reason: `this server's own version, published in upkeep-releases.json` };
  }

  /** The upkeep versions the published upkeep-releases.json lists, or undefined when none is published. */
  get versions(): string[] | undefined {
    return this.#manifest.versions;
  }

  /** Hosts stop updating their updater when upkeep-releases.json expires: said in the log (PublishedManifest). */
  warnExpiry(now: Date): void {
    this.#manifest.warnExpiry(now);
  }
}
