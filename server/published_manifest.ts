/**
 * The published release manifest, as the server reads it. Informational here (the server holds no trust
 * keys; hosts verify it): it supplies the `critical` flags a release engineer set with `upkeep release
 * manifest --critical`, the versions hosts can install (apply refuses others), and its expiry, which the
 * log warns about.
 */
import { manifestFileName, parseManifest } from "../core/trust/manifest.ts";
import { expiryWarning } from "../core/trust/manifest_expiry.ts";
import type { ReleasesView } from "../core/wire/mod.ts";

interface Summary {
  critical: Set<string>;
  serial: number;
  expires: string;
  floor: string | null;
  versions: string[];
}

type Log = (msg: string, fields?: Record<string, unknown>) => void;

export class PublishedManifest {
  readonly #product: string;
  readonly #log: Log;
  #manifest: Summary | undefined;
  /** The expiry last warned about in the log, and when (at most one warning a day for it). */
  #warned: { expires: string; at: number } | undefined;
  /** Replicas: the sha256 of the stored manifest's record as last read (`follow` reads it again when it moves). */
  #sha: string | undefined;

  constructor(product: string, log: Log) {
    this.#product = product;
    this.#log = log;
  }

  /** Versions the manifest flags critical (none without one). */
  get critical(): ReadonlySet<string> {
    return this.#manifest?.critical ?? new Set();
  }

  /** The versions it lists, or undefined when none is published (or it does not parse). */
  get versions(): string[] | undefined {
    return this.#manifest?.versions;
  }

  /**
   * Reads it again with `readArtifact` (a manifest that is gone keeps the last one read; one that does not
   * parse is named in the log and ignored). True when its critical flags changed.
   */
  async read(
    readArtifact: ((name: string) => Promise<string | undefined>) | undefined,
    now: Date,
  ): Promise<boolean> {
    const before = JSON.stringify([...this.critical]);
    const text = await readArtifact?.(manifestFileName(this.#product)).catch(() => undefined);
    if (text === undefined) return false;
    try {
      const m = parseManifest(text, { product: this.#product });
      this.#manifest = {
        critical: new Set(m.releases.filter((r) => r.critical).map((r) => r.version)),
        serial: m.serial,
        expires: m.expires,
        floor: m.floor ?? null,
        versions: m.releases.map((r) => r.version),
      };
      this.warnExpiry(now);
    } catch (e) {
      this.#log("release manifest ignored: it does not parse", { error: (e as Error).message });
    }
    return JSON.stringify([...this.critical]) !== before;
  }

  /** Replicas: the stored record's sha256 (undefined: none stored) it is read at now. */
  readAt(sha256: string | undefined): void {
    this.#sha = sha256;
  }

  /**
   * Replicas: reads it again when the stored record's sha256 moved since `readAt` or the last `follow` (another
   * replica published one): once per publication. True as for `read`; false when it did not move.
   */
  async follow(
    sha256: string | undefined,
    readArtifact: ((name: string) => Promise<string | undefined>) | undefined,
    now: Date,
  ): Promise<boolean> {
    if (sha256 === this.#sha) return false;
    this.#sha = sha256;
    return await this.read(readArtifact, now);
  }

  /**
   * Hosts stop updating when the published manifest expires: in its last week (and after), the log says so
   * when it is read and then once a day (checked at each reconcile).
   */
  warnExpiry(now: Date): void {
    const m = this.#manifest;
    if (!m) return;
    const warning = expiryWarning(this.#product, m.expires, now);
    if (!warning) return;
    const last = this.#warned;
    if (last && last.expires === m.expires && now.getTime() - last.at < 86_400_000) return;
    this.#warned = { expires: m.expires, at: now.getTime() };
    this.#log(`WARNING: ${warning}`, { expires: m.expires, serial: m.serial });
  }

  /** `manifest` of `GET /v1/releases`. */
  view(now: Date): ReleasesView["manifest"] {
    const m = this.#manifest;
    if (!m) return null;
    return {
      serial: m.serial,
      expires: m.expires,
      floor: m.floor,
      versions: m.versions,
      warning: expiryWarning(this.#product, m.expires, now) ?? null,
    };
  }
}
