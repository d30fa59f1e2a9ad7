/**
 * Artifacts elsewhere (issue 15): with `--artifacts-url` hosts are sent there (install.sh, the find answer,
 * a redirect from /artifacts) and serve reads the release manifest from there; uploads are refused where
 * they would not reach every host (a CDN; a replica's dir that is not declared shared).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { harness, manifestDoc } from "./test_harness.ts";

const CDN = "https://cdn.example.com/releases";
const ART = "hello-v17.0.1-linux-amd64-bin.tar.gz";

async function upload(h: Awaited<ReturnType<typeof harness>>, name = ART) {
  const r = await h.req(
    "PUT",
    `/v1/artifacts/${name}`,
    "artifact bytes",
    undefined,
    "application/octet-stream",
  );
  return {
    status: r.status,
    body: (await r.json()) as { error?: { message: string }; code?: string; hint?: string },
  };
}

async function storedArtifacts(h: Awaited<ReturnType<typeof harness>>): Promise<unknown[]> {
  const r = await h.req("GET", "/v1/releases");
  return ((await r.json()) as { artifacts: unknown[] }).artifacts;
}

describe("uploads refused where hosts would not get them", () => {
  test("--artifacts-url: 409 saying where the files go instead; nothing stored", async () => {
    const h = await harness({ artifacts: { artifactsUrl: CDN } });
    const r = await upload(h);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe("E_CONFLICT");
    expect(r.body.error?.message).toContain(`hosts download them from --artifacts-url ${CDN}`);
    expect(r.body.hint).toContain("--artifacts-shared");
    expect(await storedArtifacts(h)).toEqual([]);
  });

  test("a replica on PostgreSQL whose dir is not declared shared: 409 saying what to do; nothing stored", async () => {
    const h = await harness({ artifacts: { store: "postgres://upkeep@127.0.0.1:5432/upkeep" } });
    const r = await upload(h);
    expect(r.status).toBe(409);
    expect(r.body.error?.message).toContain("is not declared shared");
    expect(r.body.hint).toContain("--artifacts-url URL");
    expect(await storedArtifacts(h)).toEqual([]);
  });

  test("a dir declared shared takes them (with or without --artifacts-url), as one server does", async () => {
    for (const artifacts of [
      { store: "postgres://upkeep@127.0.0.1:5432/upkeep", artifactsShared: true },
      { artifactsUrl: CDN, artifactsShared: true },
      {},
    ]) {
      const h = await harness({ artifacts });
      const r = await upload(h);
      expect(r.status).toBe(201);
      expect(await storedArtifacts(h)).toHaveLength(1);
    }
  });

  test("without the admin token: 401 as before (the refusal tells nothing to anyone else)", async () => {
    const h = await harness({ artifacts: { artifactsUrl: CDN } });
    const r = await h.app.request(`/v1/artifacts/${ART}`, { method: "PUT", body: "x" });
    expect(r.status).toBe(401);
  });
});

describe("hosts are sent to --artifacts-url", () => {
  test("GET and HEAD /artifacts/NAME redirect there (no bytes from serve); a bad name is still refused", async () => {
    const h = await harness({ artifacts: { artifactsUrl: CDN, artifactsShared: true } });
    expect((await upload(h)).status).toBe(201);
    for (const method of ["GET", "HEAD"]) {
      const r = await h.app.request(`/artifacts/${ART}`, { method });
      expect(r.status).toBe(302);
      expect(r.headers.get("location")).toBe(`${CDN}/${ART}`);
    }
    const bad = await h.app.request("/artifacts/..%2Fupkeep.db");
    expect(bad.status).toBe(404);
  });

  test("without it /artifacts serves the file itself, as before", async () => {
    const h = await harness();
    expect((await upload(h)).status).toBe(201);
    const r = await h.app.request(`/artifacts/${ART}`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("artifact bytes");
  });

  test("install.sh downloads upkeep from it and enables the agent with --base-url it (a later one wins)", async () => {
    const h = await harness({ artifacts: { artifactsUrl: `${CDN}/it's` } });
    const script = await (await h.app.request("/scripts/install.sh")).text();
    expect(script).toContain(`UPKEEP_ARTIFACTS='${CDN}/it'"'"'s'\n`);
    expect(script).toContain('fetch "$UPKEEP_ARTIFACTS/$name" "$tmp/upkeep"');
    expect(script).toContain('fetch "$UPKEEP_ARTIFACTS/$name.sha256" "$tmp/upkeep.sha256"');
    expect(script).not.toContain("/download/");
    expect(script).toContain(
      'exec "$BIN_DIR/upkeep" agent enable --server "$UPKEEP_SERVER" --base-url "$UPKEEP_ARTIFACTS" "$@"',
    );
    const plain = await (await (await harness()).app.request("/scripts/install.sh")).text();
    expect(plain).not.toContain("UPKEEP_ARTIFACTS");
    expect(plain).toContain('fetch "$UPKEEP_SERVER/download/$name" "$tmp/upkeep"');
  });

  test("the find answer names it (upkeep.artifacts_url); without it the answer has no such field", async () => {
    const h = await harness({ info: { artifactsUrl: CDN } });
    const body = (await (await h.app.request("/v1/webapi/find")).json()) as {
      upkeep: Record<string, unknown>;
    };
    expect(body.upkeep.artifacts_url).toBe(CDN);
    const plain = (await (await (await harness()).app.request("/v1/webapi/find")).json()) as {
      upkeep: Record<string, unknown>;
    };
    expect("artifacts_url" in plain.upkeep).toBe(false);
  });
});

describe("the release manifest is read from --artifacts-url", () => {
  let manifest: unknown = manifestDoc(["16.4.0"]);
  let down = false;
  const requests: string[] = [];
  const cdn = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(path);
      if (down) return new Response("bad gateway", { status: 502 });
      if (path === "/r/hello-releases.json") return Response.json(manifest);
      return new Response("not found", { status: 404 });
    },
  });
  afterAll(() => cdn.stop(true));
  const target = (v: string) => ({
    kind: "autoupdate_version",
    spec: { agents: { start_version: "16.4.0", target_version: v, schedule: "regular" } },
  });

  test("apply checks versions against it, as published now; a CDN that fails keeps the last one read", async () => {
    const h = await harness({ artifacts: { artifactsUrl: `http://127.0.0.1:${cdn.port}/r` } });
    expect(requests).toContain("/r/hello-releases.json");
    const refused = await h.req("POST", "/v1/apply", { resources: [target("17.0.1")] });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      "published: 16.4.0;",
    );

    // A release engineer adds 17.0.1 to the manifest on the CDN: the next apply sees it, no upload here.
    manifest = manifestDoc(["16.4.0", "17.0.1"], 2);
    expect((await h.req("POST", "/v1/apply", { resources: [target("17.0.1")] })).status).toBe(200);

    // The CDN answers 502: the last manifest read stays (17.0.1 is still published), and the log says why.
    down = true;
    const again = await h.req("POST", "/v1/apply", { resources: [target("17.0.1")] });
    expect(again.status).toBe(200);
    // (upkeep's own manifest, upkeep-releases.json, is read from there too: its failure is logged on its own.)
    const failed = h.logs.filter((l) => l.startsWith("cannot read from --artifacts-url"));
    expect(failed.filter((l) => l.includes("hello-releases.json"))).toHaveLength(1);
    expect(requests).toContain("/r/upkeep-releases.json");
    down = false;
  });

  test("with a shared dir the manifest is read from the dir (the URL serves it)", async () => {
    requests.length = 0;
    const h = await harness({
      artifacts: { artifactsUrl: `http://127.0.0.1:${cdn.port}/r`, artifactsShared: true },
    });
    expect(requests).toEqual([]);
    const r = await h.req(
      "PUT",
      "/v1/artifacts/hello-releases.json",
      manifestDoc(["16.4.0", "16.5.0"]),
      undefined,
      "application/json",
    );
    expect(r.status).toBe(201);
    expect((await h.req("POST", "/v1/apply", { resources: [target("16.5.0")] })).status).toBe(200);
    expect(requests).toEqual([]);
  });
});
