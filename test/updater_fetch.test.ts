/**
 * fetchVerifiedUpdater (core/sys/self/fetch_updater.ts): upkeep's own executable through the release trust
 * path, from a real `dist/upkeep serve` (published with `admin publish`) and from hostile servers. Every
 * refusal has its code and leaves nothing at `dest` (and no `.part` of refused bytes).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isUpkeepError } from "../core/errors.ts";
import { loadTrustedKeys } from "../core/sys/keys.ts";
import { type FetchUpdaterOptions, fetchVerifiedUpdater } from "../core/sys/self/fetch_updater.ts";
import { type SelfExecutable, writeSelfRelease } from "../core/sys/self/self_release.ts";
import type { PublicKey } from "../core/trust/minisign.ts";
import { adminOk, useWorld, type World } from "./agent_helpers.ts";
import { keygenIn } from "./cli.ts";

let w: World;
useWorld("updfetch", async (world) => {
  w = world;
});

let selfKey: { key: string; pub: string };
let keys: PublicKey[];
let bins: Record<string, string>;
let n = 0;

/** A fake upkeep executable of `size` bytes (a script, then random padding), one per version. */
function fakeExecutable(version: string, size = 4096): string {
  const path = join(w.dir, `bin-${version}-${size}`);
  const head = new TextEncoder().encode(`#!/bin/sh\necho "upkeep ${version}"\nexit 0\n`);
  const body = new Uint8Array(size);
  crypto.getRandomValues(body);
  body.set(head);
  writeFileSync(path, body, { mode: 0o755 });
  return path;
}

beforeAll(async () => {
  selfKey = await keygenIn(join(w.dir, "self-keys"));
  keys = await loadTrustedKeys([selfKey.pub]);
  bins = {
    "1.0.0": fakeExecutable("1.0.0"),
    "1.1.0": fakeExecutable("1.1.0"),
    big: fakeExecutable("2.0.0", 600_000),
  };
});

/** A self release in a new folder. */
async function release(
  executables: SelfExecutable[],
  o: { serial?: number; floor?: string; key?: string } = {},
): Promise<string> {
  const out = join(w.dir, `rel-${++n}`);
  await writeSelfRelease({
    out,
    key: o.key ?? selfKey.key,
    executables,
    serial: o.serial ?? 100,
    ...(o.floor ? { floor: o.floor } : {}),
  });
  return out;
}

/** A static file server over `dir`, with Range; `tamper` may answer a path instead. */
function fileServer(
  dir: string,
  tamper?: (path: string, req: Request) => Response | undefined,
): { url: string; requests: { path: string; range: string | null }[]; stop: () => void } {
  const requests: { path: string; range: string | null }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push({ path, range: req.headers.get("range") });
      const t = tamper?.(path, req);
      if (t) return t;
      const file = join(dir, path.slice(1));
      if (path.includes("..") || !existsSync(file)) return new Response("not found", { status: 404 });
      const bytes = readFileSync(file);
      const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
      if (m) {
        const from = Number(m[1]);
        return new Response(bytes.subarray(from), {
          status: 206,
          headers: { "content-range": `bytes ${from}-${bytes.length - 1}/${bytes.length}` },
        });
      }
      return new Response(bytes);
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) };
}

function opts(baseUrl: string, dest: string, o: Partial<FetchUpdaterOptions> = {}): FetchUpdaterOptions {
  return { baseUrl, version: "1.1.0", os: "linux", arch: "amd64", keys, dest, state: {}, ...o };
}

async function refused(o: FetchUpdaterOptions): Promise<string> {
  try {
    await fetchVerifiedUpdater(o);
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    return `${e.code}: ${e.message}`;
  }
  throw new Error("fetched, but it should have been refused");
}

/** Nothing at dest, and no download of refused bytes left beside it. */
function nothingLeft(dest: string): void {
  expect(existsSync(dest)).toBe(false);
  const dir = join(dest, "..");
  if (existsSync(dir)) expect(readdirSync(dir)).toEqual([]);
}

describe("from a real serve", () => {
  test("published with admin publish, fetched, verified and written 0755; a second fetch reuses it", async () => {
    const out = await release([
      { path: bins["1.0.0"] as string, version: "1.0.0" },
      { path: bins["1.1.0"] as string, version: "1.1.0" },
    ]);
    await adminOk(w, ["publish", ...readdirSync(out).map((f) => join(out, f))]);
    const dest = join(w.dir, "host-a", "updater", "versions", "1.1.0", "upkeep");
    const got = await fetchVerifiedUpdater(opts(`${w.url}/artifacts`, dest));
    expect(got).toMatchObject({
      version: "1.1.0",
      name: "upkeep-v1.1.0-linux-amd64",
      serial: 100,
      reused: false,
    });
    expect(readFileSync(dest)).toEqual(readFileSync(bins["1.1.0"] as string));
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(dest, ".."))).toEqual(["upkeep"]);
    const again = await fetchVerifiedUpdater(
      opts(`${w.url}/artifacts`, dest, { state: { lastSerial: 100 } }),
    );
    expect(again.reused).toBe(true);
  });

  test("the product's key does not sign an updater: a manifest signed by it is refused", async () => {
    const out = await release([{ path: bins["1.1.0"] as string, version: "1.1.0" }], { key: w.key });
    const s = fileServer(out);
    try {
      const dest = join(w.dir, "host-b", "upkeep");
      expect(await refused(opts(s.url, dest))).toStartWith("E_SIGNATURE");
      nothingLeft(dest);
    } finally {
      s.stop();
    }
  });
});

describe("hostile servers: each refusal has its code, nothing is left at dest", () => {
  const cases: [
    string,
    string,
    (
      | {
          executables?: SelfExecutable[];
          serial?: number;
          floor?: string;
          lastSerial?: number;
          version?: string;
          arch?: string;
          prepare?: (out: string) => void;
          tamper?: (path: string) => Response | undefined;
        }
      | undefined
    ),
  ][] = [
    [
      "tampered bytes (same size)",
      "E_SIGNATURE",
      {
        prepare: (out) => {
          const p = join(out, "upkeep-v1.1.0-linux-amd64");
          const b = readFileSync(p);
          b[100] = (b[100] ?? 0) ^ 0xff;
          writeFileSync(p, b);
        },
      },
    ],
    [
      "an unsigned executable",
      "E_SIGNATURE",
      { executables: [{ path: "1.1.0", version: "1.1.0", unsigned: true }] },
    ],
    [
      "an unsigned manifest",
      "E_SIGNATURE",
      { tamper: (p) => (p.endsWith(".json.minisig") ? new Response("", { status: 404 }) : undefined) },
    ],
    ["a lower serial than seen before", "E_ROLLBACK", { serial: 50, lastSerial: 60 }],
    [
      "a version below the floor",
      "E_BELOW_FLOOR",
      {
        executables: [
          { path: "1.0.0", version: "1.0.0" },
          { path: "1.1.0", version: "1.1.0" },
        ],
        floor: "1.1.0",
        version: "1.0.0",
      },
    ],
    ["a version not listed", "E_NOT_IN_MANIFEST", { version: "1.2.0" }],
    ["no executable for this platform", "E_NOT_IN_MANIFEST", { arch: "arm64" }],
    [
      "a body larger than the manifest says",
      "E_SIZE",
      {
        tamper: (p) => (p.endsWith("-amd64") ? new Response(new Uint8Array(5000).fill(65)) : undefined),
      },
    ],
  ];
  for (const [what, code, c] of cases) {
    test(`${what}: ${code}`, async () => {
      const executables = (c?.executables ?? [{ path: "1.1.0", version: "1.1.0" }]).map((e) => ({
        ...e,
        path: bins[e.path] as string,
      }));
      const out = await release(executables, {
        ...(c?.serial === undefined ? {} : { serial: c.serial }),
        ...(c?.floor === undefined ? {} : { floor: c.floor }),
      });
      c?.prepare?.(out);
      const s = fileServer(out, c?.tamper);
      try {
        const dest = join(w.dir, `host-${++n}`, "updater", "upkeep");
        const why = await refused(
          opts(s.url, dest, {
            ...(c?.version ? { version: c.version } : {}),
            ...(c?.arch ? { arch: c.arch } : {}),
            state: c?.lastSerial === undefined ? {} : { lastSerial: c.lastSerial },
          }),
        );
        expect(why).toStartWith(`${code}:`);
        nothingLeft(dest);
      } finally {
        s.stop();
      }
    });
  }
});

test("a download cut short is resumed with a Range request", async () => {
  const out = await release([{ path: bins.big as string, version: "2.0.0" }]);
  let cut = true;
  const s = fileServer(out, (path, req) => {
    if (!path.endsWith("-amd64") || req.headers.get("range") || !cut) return undefined;
    cut = false;
    const bytes = readFileSync(join(out, path.slice(1)));
    // Half the bytes, then the connection ends.
    const half = bytes.subarray(0, 300_000);
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(half);
          await Bun.sleep(200); // the bytes reach the client before the connection drops
          c.error(new Error("cut"));
        },
      }),
      { headers: { "content-length": String(bytes.length) } },
    );
  });
  try {
    const dest = join(w.dir, "host-resume", "upkeep");
    const got = await fetchVerifiedUpdater(opts(s.url, dest, { version: "2.0.0" }));
    expect(got.reused).toBe(false);
    expect(readFileSync(dest)).toEqual(readFileSync(bins.big as string));
    const gets = s.requests.filter((r) => r.path.endsWith("-amd64"));
    expect(gets.length).toBe(2);
    expect(gets[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(gets[1]?.range ?? "")?.[0])).toBeGreaterThan(0);
  } finally {
    s.stop();
  }
});
