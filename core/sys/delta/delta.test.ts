import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noise } from "../../../scripts/fake_bytes.ts";
import { isUpkeepError } from "../../errors.ts";
import { writeGzip } from "../release/gzip.ts";
import { applyPatch, readPatchHeader } from "./apply.ts";
import { makePatch } from "./make.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-delta-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Needs Debian's zstd (the release side only); under CI a missing one fails instead of skipping.
const hasZstd = Bun.which("zstd") !== null || Boolean(process.env.CI);
const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** Compressible text, like a script or a bundle: words picked pseudo-randomly. */
function words(n: number, seed: number): Uint8Array {
  const vocab = ["upkeep", "agent", "serve", "return", "const", "function", "version", "{", "}", "\n", "  "];
  const r = noise(n, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = vocab[(r[i % n] ?? 0) % vocab.length] ?? "";
    parts.push(w, " ");
    len += w.length + 1;
  }
  return new TextEncoder().encode(parts.join("").slice(0, n));
}

function split(b: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function gz(name: string, content: Uint8Array, piece: number): Promise<string> {
  const path = join(dir, name);
  await writeGzip(path, split(content, piece));
  return path;
}

const end = (path: string, version: string, name: string) => {
  const b = readFileSync(path);
  return { path, version, name, size: b.length, sha256: sha(b) };
};

describe("writeGzip", () => {
  test("the same bytes give the same archive however they are split (a host re-gzips a rebuilt tar)", async () => {
    const content = new Uint8Array([...words(3_000_000, 7), ...noise(1_000_000, 3)]);
    const a = readFileSync(await gz("a.gz", content, 512));
    const b = readFileSync(await gz("b.gz", content, 1 << 20));
    const c = readFileSync(await gz("c.gz", content, 777_777));
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).toBe(sha(c));
  });
});

describe.if(hasZstd)("makePatch and applyPatch (zstd --patch-from)", () => {
  const base = new Uint8Array([...noise(2_000_000, 1), ...new TextEncoder().encode("hello v1.0.0\n")]);
  const next = new Uint8Array([
    ...noise(2_000_000, 1),
    ...new TextEncoder().encode("hello v1.1.0, changed\n"),
  ]);

  test("gzip artifacts: the patch is over what they decompress to, and rebuilds the new one byte for byte", async () => {
    const from = end(
      await gz("hello-v1.0.0-linux-amd64-bin.tar.gz", base, 512),
      "1.0.0",
      "hello-v1.0.0-linux-amd64-bin.tar.gz",
    );
    const to = end(
      await gz("hello-v1.1.0-linux-amd64-bin.tar.gz", next, 4096),
      "1.1.0",
      "hello-v1.1.0-linux-amd64-bin.tar.gz",
    );
    const made = await makePatch({ from, to, out: dir, level: 3 });
    expect(made.name).toBe("hello-v1.1.0-linux-amd64-bin.tar.gz.from-1.0.0.patch");
    expect(made.header.content).toBe("gzip");
    expect(made.size).toBeLessThan(to.size / 100);
    const out = join(dir, "rebuilt");
    await applyPatch({ patch: made.path, base: from.path, out, baseSha256: from.sha256 });
    expect(sha(readFileSync(out))).toBe(to.sha256);
  });

  test("raw files (upkeep's own executables): over the bytes themselves", async () => {
    const [a, b] = [join(dir, "upkeep-v0.1.0-linux-amd64"), join(dir, "upkeep-v0.2.0-linux-amd64")];
    writeFileSync(a, base);
    writeFileSync(b, next);
    const made = await makePatch({
      from: end(a, "0.1.0", "upkeep-v0.1.0-linux-amd64"),
      to: end(b, "0.2.0", "upkeep-v0.2.0-linux-amd64"),
      out: dir,
      level: 3,
    });
    expect(made.header.content).toBe("raw");
    await applyPatch({ patch: made.path, base: a, out: join(dir, "rebuilt-raw") });
    expect(sha(readFileSync(join(dir, "rebuilt-raw")))).toBe(sha(next));
  });

  test("refused: a base with other bytes (E_CHECKSUM), a corrupt frame (E_MALFORMED), never a wrong output", async () => {
    const patch = join(dir, "hello-v1.1.0-linux-amd64-bin.tar.gz.from-1.0.0.patch");
    const other = join(dir, "other.gz");
    await writeGzip(other, [noise(2_000_000, 2)]);
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
        return "applied";
      } catch (e) {
        return isUpkeepError(e) ? e.code : String(e);
      }
    };
    const tampered = readFileSync(join(dir, "hello-v1.0.0-linux-amd64-bin.tar.gz"));
    const at = tampered.length - 20;
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    writeFileSync(other, tampered);
    expect(await code(applyPatch({ patch, base: other, out: join(dir, "x1") }))).toBe("E_CHECKSUM");
    const bytes = readFileSync(patch);
    const { offset } = readPatchHeader(patch);
    const mid = offset + Math.floor((bytes.length - offset) / 2);
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
    writeFileSync(join(dir, "corrupt.patch"), bytes);
    expect(
      await code(
        applyPatch({
          patch: join(dir, "corrupt.patch"),
          base: join(dir, "hello-v1.0.0-linux-amd64-bin.tar.gz"),
          out: join(dir, "x2"),
        }),
      ),
    ).toMatch(/E_MALFORMED|E_SIZE/);
  });
});
