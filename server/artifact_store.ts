/**
 * Release artifacts on local disk (`DIR/artifacts`, or `--artifacts-dir`), written by streaming with sha256
 * computed on the way; and where hosts download them: this server's /artifacts, or `--artifacts-url` (a CDN,
 * nginx, a bucket's web endpoint), in which case uploads go there and not here.
 */
import { mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { UpkeepError } from "../core/errors.ts";
import { joinUrl } from "../core/install/url.ts";
import { fetchCapped } from "../core/sys/install/http_get.ts";
import { isStoredName } from "../core/trust/artifact_name.ts";

export function checkArtifactName(name: string): string {
  if (!isStoredName(name)) {
    throw new UpkeepError("E_USAGE", `invalid artifact name ${JSON.stringify(name)}`, {
      hint: "use letters, digits, '.', '_', '+', '-' only (no '/', no '..')",
      exitCode: 2,
    });
  }
  return name;
}

export interface StoredArtifact {
  size: number;
  sha256: string;
}

export interface ArtifactStore {
  /** Streams `body` into the store under `name`; the file appears only when complete (rename). */
  put(name: string, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<StoredArtifact>;
  /** The file path of a stored artifact (or undefined). */
  path(name: string): string | undefined;
  /** `--artifacts-url`: where hosts download artifacts; undefined: this server's /artifacts. */
  readonly downloadUrl?: string | undefined;
  /** Why this server refuses uploads (409 E_CONFLICT, saying what to do), or undefined: it takes them. */
  uploadRefusal(): UpkeepError | undefined;
  /** A small artifact's text (the release manifest) from where hosts get it, or undefined when absent. */
  readText(name: string): Promise<string | undefined>;
}

/** Where artifacts live: what `openArtifacts` needs of serve's options. */
export interface ArtifactLayout {
  artifactsUrl: string | undefined;
  artifactsDir: string;
  artifactsShared: boolean;
  /** The store target (`--store`): a postgres:// URL means replicas (each with its own local dir). */
  store?: string | undefined;
}

/** At most this much of an artifact is read as text (the manifest; hosts cap it at 8 MiB). */
const MAX_TEXT_BYTES = 16 * 1024 * 1024;

/** True for a `--store` that replicas share (PostgreSQL): the local artifacts dir is then one of several. */
export function isSharedStore(store: string | undefined): boolean {
  return store !== undefined && /^postgres(ql)?:\/\//i.test(store.trim());
}

/**
 * Why uploads (`PUT /v1/artifacts/...`, `admin publish`) are refused with this layout, or undefined. With
 * `--artifacts-url` the hosts download from there: bytes uploaded here would never reach them. With replicas
 * (a PostgreSQL store) a local dir that is not declared shared would hold the file on this replica only.
 */
export function uploadRefusal(l: ArtifactLayout): { message: string; hint: string } | undefined {
  if (l.artifactsShared) return undefined;
  if (l.artifactsUrl !== undefined)
    return {
      message: `this server does not take artifacts: hosts download them from --artifacts-url ${l.artifactsUrl}, so put the release files there (artifacts, .minisig, .sha256, the manifest and its .minisig, the public key) and not here`,
      hint: "copy the folder of `upkeep release` to the storage behind that URL (rsync to the web root, aws s3 sync, ...); or, if that storage is a directory every replica mounts, start serve with --artifacts-dir DIR --artifacts-shared",
    };
  if (isSharedStore(l.store))
    return {
      message: `this replica's artifacts dir ${l.artifactsDir} is not declared shared: with several replicas on one PostgreSQL, a file uploaded here would be missing on the others`,
      hint: "put the artifacts on storage every replica mounts and start each with --artifacts-dir DIR --artifacts-shared, or host them on a CDN or web server and start serve with --artifacts-url URL",
    };
  return undefined;
}

/**
 * The artifact store of a layout: the local dir, refusing uploads when `uploadRefusal` says so, and reading
 * the release manifest from `--artifacts-url` when the files are there and not here. `log` names a manifest
 * that could not be fetched.
 */
export function openArtifacts(
  l: ArtifactLayout,
  log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
): LocalArtifactStore {
  return new LocalArtifactStore(l.artifactsDir, {
    downloadUrl: l.artifactsUrl,
    refusal: uploadRefusal(l),
    // With a shared dir the files are here too (the URL serves that dir): read them here.
    readFrom: l.artifactsUrl !== undefined && !l.artifactsShared ? l.artifactsUrl : undefined,
    log,
    shared: l.artifactsShared,
  });
}

export interface LocalArtifactOptions {
  downloadUrl?: string | undefined;
  refusal?: { message: string; hint: string } | undefined;
  /** Read artifacts' text (`readText`) from this base URL instead of the dir. */
  readFrom?: string | undefined;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** The dir is shared with other replicas (their uploads in progress are left alone). */
  shared?: boolean;
}

/** A partial upload in a shared dir not written to for this long is a crashed one. */
const STALE_UPLOAD_MS = 60 * 60_000;

export class LocalArtifactStore implements ArtifactStore {
  readonly dir: string;
  readonly downloadUrl: string | undefined;
  readonly #o: LocalArtifactOptions;
  /** The error of the last remote read, while it fails. */
  #failing: string | undefined;

  constructor(dir: string, o: LocalArtifactOptions = {}) {
    this.dir = dir;
    this.downloadUrl = o.downloadUrl;
    this.#o = o;
    mkdirSync(dir, { recursive: true });
    // Partial uploads from a crash are never served: they live under a dot-name and are removed here. In a
    // shared dir another replica may be writing one now: only those untouched for an hour are removed.
    const staleBefore = o.shared ? Date.now() - STALE_UPLOAD_MS : Number.POSITIVE_INFINITY;
    for (const f of new Bun.Glob(".upload-*").scanSync({ cwd: dir, dot: true })) {
      const path = join(dir, f);
      try {
        if (statSync(path).mtimeMs < staleBefore) rmSync(path, { force: true });
      } catch {}
    }
  }

  path(name: string): string | undefined {
    return isStoredName(name) ? join(this.dir, name) : undefined;
  }

  uploadRefusal(): UpkeepError | undefined {
    const r = this.#o.refusal;
    return r && new UpkeepError("E_CONFLICT", r.message, { hint: r.hint });
  }

  async readText(name: string): Promise<string | undefined> {
    if (!isStoredName(name)) return undefined;
    const base = this.#o.readFrom;
    if (base === undefined) {
      const f = Bun.file(join(this.dir, name));
      return (await f.exists()) && f.size <= MAX_TEXT_BYTES ? await f.text() : undefined;
    }
    const url = joinUrl(base, name);
    try {
      // The operator chose this URL (http included); what it serves is signed and hosts verify it.
      const bytes = await fetchCapped(url, MAX_TEXT_BYTES, name, { insecure: true, totalMs: 10_000 });
      this.#failing = undefined;
      return new TextDecoder().decode(bytes);
    } catch (e) {
      if (e instanceof UpkeepError && e.code === "E_NOT_FOUND") return undefined;
      const error = (e as Error).message;
      // Once per failure, not at every re-read.
      if (this.#failing !== error)
        this.#o.log?.("cannot read from --artifacts-url (the last copy read stays in use)", { url, error });
      this.#failing = error;
      throw e;
    }
  }

  async put(name: string, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<StoredArtifact> {
    checkArtifactName(name);
    const tmp = join(this.dir, `.upload-${crypto.randomUUID()}`);
    const hasher = new Bun.CryptoHasher("sha256");
    const fh = await open(tmp, "wx", 0o644);
    let size = 0;
    try {
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          throw new UpkeepError("E_SIZE", `artifact ${name} is larger than the limit of ${maxBytes} bytes`);
        }
        hasher.update(chunk);
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off)).bytesWritten;
      }
      await fh.sync();
      await fh.close();
      renameSync(tmp, join(this.dir, name));
      return { size, sha256: hasher.digest("hex") };
    } catch (e) {
      await fh.close().catch(() => {});
      rmSync(tmp, { force: true });
      throw e;
    }
  }
}
