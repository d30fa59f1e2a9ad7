/**
 * The shared bounds of every network read (bounded_http.ts), through the installer's fetches: a total
 * deadline an answer dripping one byte at a time cannot escape (the idle timer alone never fires), shared by
 * a download's tries, and a size cap while streaming; the errors name which bound stopped the read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HostileServer, startHostileServer } from "../../test/hostile_server.ts";
import { isUpkeepError } from "../errors.ts";
import { artifactDeadlineMs, formatBytes, Watchdog } from "./bounded_http.ts";
import { downloadArtifact, fetchCapped } from "./install/download.ts";

let bad: HostileServer;
let dir: string;

beforeAll(() => {
  // Nothing behind it: every path answers badly.
  bad = startHostileServer("http://127.0.0.1:9");
  dir = mkdtempSync(join(tmpdir(), "upkeep-bounded-"));
});

afterAll(() => {
  bad.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    return { code: e.code, message: e.message, ms: performance.now() - t0 };
  }
  throw new Error("expected a failure");
}

describe("total deadline", () => {
  test("a small file dripping one byte every 50 ms is given up at its deadline, not kept alive by each byte", async () => {
    bad.clear();
    bad.misbehave((p) => p === "/drip.minisig", { kind: "drip", everyMs: 50 });
    const f = await failure(
      fetchCapped(`${bad.url}/drip.minisig`, 16 * 1024, "signature", {
        insecure: false,
        idleMs: 60_000,
        totalMs: 600,
      }),
    );
    expect(f.code).toBe("E_NETWORK");
    expect(f.message).toBe(`${bad.url}/drip.minisig: timed out after 0.6 s`);
    expect(f.ms).toBeLessThan(4000);
  });

  test("an artifact's deadline covers all its tries; the .part stays for the next run", async () => {
    bad.clear();
    bad.misbehave((p) => p === "/a.tar.gz", { kind: "drip", everyMs: 50 });
    const part = join(dir, "a.part");
    const before = bad.requests.length;
    const f = await failure(
      downloadArtifact({
        url: `${bad.url}/a.tar.gz`,
        path: part,
        size: 1_000_000,
        insecure: false,
        idleMs: 60_000,
        deadlineMs: 700,
        attempts: 3,
      }),
    );
    expect(f.code).toBe("E_NETWORK");
    expect(f.message).toContain("timed out after 0.7 s");
    // One deadline for the three tries: once it is over, no other try is made.
    expect(bad.requests.slice(before)).toEqual(["/a.tar.gz"]);
    expect(f.ms).toBeLessThan(10_000);
    expect(existsSync(part)).toBe(true);
  });

  test("the default artifact deadline: 30 s plus the size at 64 KiB/s", () => {
    expect(artifactDeadlineMs(0)).toBe(30_000);
    expect(artifactDeadlineMs(64 * 1024 * 60)).toBe(90_000);
    expect(artifactDeadlineMs(256 * 1024 * 1024)).toBe(30_000 + 4096_000);
  });

  test("the caller's signal wins over the timers: cancelled, not timed out", async () => {
    const ac = new AbortController();
    const w = new Watchdog({ idleMs: 10_000, totalMs: 10_000, signal: ac.signal });
    ac.abort();
    expect(w.signal.aborted).toBe(true);
    expect(w.error("http://x/y", new Error("aborted")).code).toBe("E_CANCELLED");
    w.dispose();
  });
});

describe("size cap while streaming", () => {
  test("an endless answer stops at the cap with 'larger than', whatever it declares", async () => {
    bad.clear();
    bad.misbehave((p) => p === "/endless.json", { kind: "endless" });
    const f = await failure(
      fetchCapped(`${bad.url}/endless.json`, 1024 * 1024, "manifest", { insecure: false, totalMs: 20_000 }),
    );
    expect(f.code).toBe("E_MALFORMED");
    expect(f.message).toBe(`manifest ${bad.url}/endless.json is larger than 1 MiB`);
  });

  test("sizes are said in the units they were set in", () => {
    expect(formatBytes(1024 * 1024)).toBe("1 MiB");
    expect(formatBytes(16 * 1024 * 1024)).toBe("16 MiB");
    expect(formatBytes(16 * 1024)).toBe("16 KiB");
    expect(formatBytes(723)).toBe("723 bytes");
  });
});
