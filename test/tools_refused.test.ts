/**
 * Client tools remember a release this machine refused (issue 10.8, tools side), on the compiled binary with a
 * real serve: a signed release whose `bin` is a file is downloaded once, however often a tool is run; the
 * refusal is kept in tools.json with the artifact's sha256 and printed with its reason; the installed version
 * runs meanwhile (server's choice); `tools update` and `tools status` say so; a release re-published with other
 * bytes is tried again, `tools pin` forces a retry; a mirror's bad bytes (E_SIGNATURE) are never remembered.
 * A counting mirror in front of /artifacts counts the requests.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RefusedRelease } from "../core/tools/types.ts";
import type { FakeRelease } from "../scripts/fake-release.ts";
import {
  loggedInDeveloper,
  type Mirror,
  publish,
  STACK,
  setToolsTarget,
  startMirror,
  useWorld,
  type World,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

let w: World;
let mirror: Mirror;
let serial = 0;
let rel: FakeRelease;
/** Artifact paths the mirror answers with other bytes of the same length (a broken mirror). */
const corrupt = new Set<string>();
/** The mirror answers 503 to everything. */
let down = false;

/** Builds and publishes a signed release set with the next manifest serial. */
async function publishNext(versions: string[]): Promise<FakeRelease> {
  serial = serial === 0 ? Math.floor(Date.now() / 1000) : serial + 1;
  rel = await publish(w, versions, `release-${serial}`, undefined, { serial });
  return rel;
}

useWorld("tools-memo", releasesAndMirror, { serveArgs: ["--server-version", "7.9.0"] });

/** The releases, and the mirror tools download from (it counts, can be down, can corrupt). */
async function releasesAndMirror(world: World): Promise<void> {
  w = world;
  await publishNext(["7.0.0", "7.1.0:binfile", "7.2.0"]);
  await setToolsTarget(w, "7.0.0");
  mirror = startMirror(w, {
    before: () => (down ? new Response("down", { status: 503 }) : undefined),
    after: async (path, r) => {
      if (!corrupt.has(path)) return r;
      const bytes = new Uint8Array(await r.arrayBuffer());
      for (let i = 0; i < bytes.length; i += 512) bytes[i] = (bytes[i] ?? 0) ^ 0xff;
      return new Response(bytes, { status: r.status, headers: r.headers });
    },
  });
}

const artifactOf = (version: string) => {
  const a = rel.artifacts.find((x) => x.version === version);
  if (!a) throw new Error(`no artifact of ${version}`);
  return a;
};
/** Downloads of `version`'s artifact so far (any release set: the name is the same). */
const downloads = (version: string) => mirror.requests.get(`/artifacts/${artifactOf(version).name}`) ?? 0;
const manifestFetches = () => mirror.requests.get("/artifacts/hello-releases.json") ?? 0;

/** A developer logged in with the mirror as the base URL. */
const loggedIn = () => loggedInDeveloper(w, ["--base-url", `${mirror.url}/artifacts`]);

const toolsJson = (tools: string) =>
  JSON.parse(readFileSync(join(tools, "tools.json"), "utf8")) as { refused?: RefusedRelease[] };
/** As if the last check of every refusal against the manifest was two hours ago. */
function ageRefusals(tools: string) {
  const doc = toolsJson(tools);
  for (const r of doc.refused ?? []) r.checkedAt -= 2 * 3600_000;
  writeFileSync(join(tools, "tools.json"), JSON.stringify(doc, null, 2));
}
const leftovers = (tools: string) =>
  readdirSync(tools).filter((n) => n.startsWith(".tmp-") || n.startsWith(".download-"));

const exec = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  upkeep(["tools", "exec", "hello", "version"], { env: { ...env, ...extra } });

describe("a release this machine refused is not downloaded again", () => {
  test("three runs of a refused release: one download, tools.json records version and sha256, each run says why", async () => {
    const u = await loggedIn();
    const before = downloads("7.1.0");
    let manifestsAfterFirst = 0;
    for (let i = 0; i < 3; i++) {
      const r = await exec(u.env, { UPKEEP_TOOLS_VERSION: "7.1.0" });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("client tools v7.1.0 are refused on this machine");
      expect(r.stderr).toContain('"bin" that is not a folder');
      expect(r.stderr).toContain("(E_MALFORMED)");
      expect(r.stderr).toContain("`upkeep tools pin 7.1.0` forces a retry");
      expect(r.stderr).not.toMatch(STACK);
      expect(leftovers(u.tools)).toEqual([]);
      if (i === 0) manifestsAfterFirst = manifestFetches();
    }
    expect(downloads("7.1.0")).toBe(before + 1);
    // Within the hour, not even the manifest is asked again.
    expect(manifestFetches()).toBe(manifestsAfterFirst);
    const refused = toolsJson(u.tools).refused;
    expect(refused).toHaveLength(1);
    expect(refused?.[0]).toMatchObject({
      version: "7.1.0",
      artifact: artifactOf("7.1.0").name,
      sha256: artifactOf("7.1.0").sha256,
      code: "E_MALFORMED",
    });
    expect(refused?.[0]?.reason).toContain('"bin" that is not a folder');
    // After the hour, the manifest is asked again; the same bytes are still not downloaded.
    ageRefusals(u.tools);
    const later = await exec(u.env, { UPKEEP_TOOLS_VERSION: "7.1.0" });
    expect(later.code).toBe(1);
    expect(later.stderr).toContain("are refused on this machine");
    expect(manifestFetches()).toBe(manifestsAfterFirst + 1);
    expect(downloads("7.1.0")).toBe(before + 1);
    expect(toolsJson(u.tools).refused?.[0]?.checkedAt).toBeGreaterThan(Date.now() - 600_000);
    // A mirror that cannot say whether the release changed leaves the refusal standing.
    ageRefusals(u.tools);
    down = true;
    try {
      const unknown = await exec(u.env, { UPKEEP_TOOLS_VERSION: "7.1.0" });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("client tools v7.1.0 are refused on this machine");
      expect(unknown.stderr).toContain("(E_MALFORMED)");
    } finally {
      down = false;
    }
    expect(downloads("7.1.0")).toBe(before + 1);
  });

  test("three runs at once: one download (the others wait for the install lock, then see the refusal)", async () => {
    const u = await loggedIn();
    const before = downloads("7.1.0");
    const runs = await Promise.all([0, 1, 2].map(() => exec(u.env, { UPKEEP_TOOLS_VERSION: "7.1.0" })));
    for (const r of runs) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("client tools v7.1.0 are refused on this machine");
    }
    expect(downloads("7.1.0")).toBe(before + 1);
    expect(toolsJson(u.tools).refused?.map((r) => r.version)).toEqual(["7.1.0"]);
  });

  test("the server names a refused release: the installed one runs with one warning line; update and status say so; pin forces a retry", async () => {
    const u = await loggedIn();
    const first = await exec(u.env);
    expect(first.stdout.trim()).toBe("hello v7.0.0");
    await setToolsTarget(w, "7.1.0");
    try {
      const before = downloads("7.1.0");
      const up = await upkeep(["tools", "update"], { env: u.env });
      expect(up.code).toBe(1);
      expect(up.stderr).toContain("client tools v7.1.0 are refused on this machine");
      expect(up.stderr).toContain("(E_MALFORMED)");
      expect(downloads("7.1.0")).toBe(before + 1);

      for (let i = 0; i < 3; i++) {
        const r = await exec(u.env);
        expect(r.code).toBe(0);
        expect(r.stdout.trim()).toBe("hello v7.0.0");
        const lines = r.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain("WARNING: client tools v7.1.0 (E_MALFORMED: ");
        expect(lines[0]).toContain('"bin" that is not a folder');
        expect(lines[0]).toContain("running v7.0.0 instead (`upkeep tools pin 7.1.0` forces a retry)");
      }
      expect(downloads("7.1.0")).toBe(before + 1);

      // `tools update` asks the mirror again (a re-publication shows at once), and does not download.
      const m = manifestFetches();
      const again = await upkeep(["tools", "update", "--json"], { env: u.env });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("are refused on this machine");
      expect(again.stderr).toContain("not downloaded again");
      expect(again.stderr).toContain("`upkeep tools pin 7.1.0` forces a retry");
      expect(manifestFetches()).toBe(m + 1);
      expect(downloads("7.1.0")).toBe(before + 1);

      const st = await upkeep(["tools", "status", "--json"], { env: u.env });
      expect(st.code).toBe(0);
      const s = JSON.parse(st.stdout);
      expect(s).toMatchObject({ version: "7.0.0", source: "installed", refused_choice: "7.1.0" });
      expect(s.refused).toEqual([
        expect.objectContaining({
          version: "7.1.0",
          sha256: artifactOf("7.1.0").sha256,
          code: "E_MALFORMED",
          retry: "`upkeep tools pin 7.1.0` forces a retry",
        }),
      ]);
      const text = await upkeep(["tools", "status"], { env: u.env });
      expect(text.stdout).toContain("runs:      v7.0.0 (from installed; v7.1.0 is refused here)");
      expect(text.stdout).toContain("refused:   v7.1.0 (E_MALFORMED: ");

      // Pinning it forgets the refusal: the next run downloads and judges it again.
      const pin = await upkeep(["tools", "pin", "7.1.0"], { env: u.env });
      expect(pin.code).toBe(0);
      expect(toolsJson(u.tools).refused).toBeUndefined();
      const pinned = await exec(u.env);
      expect(pinned.code).toBe(1);
      expect(pinned.stderr).toContain("are refused on this machine");
      expect(pinned.stderr).toContain("pin another version or run `upkeep tools unpin`");
      expect(downloads("7.1.0")).toBe(before + 2);
      expect(toolsJson(u.tools).refused?.map((r) => r.version)).toEqual(["7.1.0"]);
    } finally {
      await setToolsTarget(w, "7.0.0");
    }
  });

  test("a mirror's bad bytes (E_SIGNATURE, E_CHECKSUM) are not remembered: the next run downloads again", async () => {
    const u = await loggedIn();
    const path = `/artifacts/${artifactOf("7.2.0").name}`;
    const before = downloads("7.2.0");
    corrupt.add(path);
    try {
      const bad = await exec(u.env, { UPKEEP_TOOLS_VERSION: "7.2.0" });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/\((E_SIGNATURE|E_CHECKSUM)\)/);
      expect(toolsJson(u.tools).refused).toBeUndefined();
    } finally {
      corrupt.delete(path);
    }
    const good = await exec(u.env, { UPKEEP_TOOLS_VERSION: "7.2.0" });
    expect(good.code).toBe(0);
    expect(good.stdout.trim()).toBe("hello v7.2.0");
    expect(downloads("7.2.0")).toBe(before + 2);
  });

  // Last: it publishes new release sets.
  test("a release re-published with other bytes is tried again (and remembered by its new sha256)", async () => {
    const u = await loggedIn();
    const env = { ...u.env, UPKEEP_TOOLS_VERSION: "7.1.0" };
    const before = downloads("7.1.0");
    expect((await exec(env)).code).toBe(1);
    const shaA = toolsJson(u.tools).refused?.[0]?.sha256;
    expect(shaA).toBe(artifactOf("7.1.0").sha256);

    // Other bytes, still refused (bin is now a symlink): downloaded once more, the record follows the bytes.
    await publishNext(["7.0.0", "7.1.0:binlink", "7.2.0"]);
    const shaB = artifactOf("7.1.0").sha256;
    expect(shaB).not.toBe(shaA);
    // `tools update` would see it at once; a tool run within the hour trusts the record, then asks again.
    expect((await exec(env)).code).toBe(1);
    expect(downloads("7.1.0")).toBe(before + 1);
    ageRefusals(u.tools);
    const b = await exec(env);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('"bin" that is not a folder');
    expect(downloads("7.1.0")).toBe(before + 2);
    expect(toolsJson(u.tools).refused?.map((r) => r.sha256)).toEqual([shaB]);
    expect((await exec(env)).code).toBe(1);
    expect(downloads("7.1.0")).toBe(before + 2);

    // Fixed bytes: tried, installed, run; the refusal is gone.
    await publishNext(["7.0.0", "7.1.0", "7.2.0"]);
    ageRefusals(u.tools);
    const fixed = await exec(env);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout.trim()).toBe("hello v7.1.0");
    expect(downloads("7.1.0")).toBe(before + 3);
    expect(toolsJson(u.tools).refused).toBeUndefined();
    expect(leftovers(u.tools)).toEqual([]);
  });
});
