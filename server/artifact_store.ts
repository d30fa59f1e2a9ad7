/** Release artifacts on local disk (`DIR/artifacts`), written by streaming with sha256 computed on the way. */
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { UpkeepError } from "../core/errors.ts";
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
}

export class LocalArtifactStore implements ArtifactStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    // Partial uploads from a crash are never served: they live under a dot-name and are removed here.
    for (const f of new Bun.Glob(".upload-*").scanSync({ cwd: dir, dot: true }))
      rmSync(join(dir, f), { force: true });
  }

  path(name: string): string | undefined {
    return isStoredName(name) ? join(this.dir, name) : undefined;
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
