/**
 * Artifacts and releases: uploads (admin), the critical flags, public downloads of artifacts and of this
 * server's own executable, and install.sh.
 */
import type { Context, Hono } from "hono";
import { parsePatchFileName } from "../core/delta/patch.ts";
import { joinUrl } from "../core/install/url.ts";
import { isSelfExecutableName, isStoredName } from "../core/trust/artifact_name.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import type { AppDeps } from "./app.ts";
import { checkArtifactName } from "./artifact_store.ts";
import { fileResponse } from "./file_response.ts";
import {
  ARTIFACT_BODY_LIMIT,
  type Env,
  type Guards,
  problem,
  REPORT_BODY_LIMIT,
  readDocument,
  tooLarge,
} from "./http.ts";
import { installScript } from "./install_sh.ts";

export function artifactRoutes(app: Hono<Env>, deps: AppDeps, { admin, viewer, writable }: Guards): void {
  const { store, artifacts, rollout } = deps;
  // Artifacts.
  app.put("/v1/artifacts/:name", admin, writable, async (c) => {
    const name = checkArtifactName(c.req.param("name") ?? "");
    const refused = artifacts.uploadRefusal();
    if (refused) {
      await c.req.raw.body?.cancel().catch(() => {});
      throw refused;
    }
    const length = Number(c.req.header("content-length") ?? "0");
    if (length > ARTIFACT_BODY_LIMIT)
      return problem(c, 413, `artifact is larger than the limit of ${ARTIFACT_BODY_LIMIT} bytes`);
    const body = c.req.raw.body;
    if (!body) return problem(c, 400, "empty body: send the artifact bytes");
    const stored = await artifacts.put(name, body, ARTIFACT_BODY_LIMIT);
    await store.putArtifact({ name, ...stored, uploaded: deps.now().toISOString() });
    await rollout.artifactsChanged();
    deps.log("artifact stored", { name, ...stored });
    return c.json({ name, ...stored }, 201);
  });
  app.get("/v1/releases", viewer, async (c) => c.json(await rollout.releases()));
  app.post("/v1/releases", admin, writable, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const doc = (await readDocument(c)) as { version?: unknown; critical?: unknown } | null;
    const v = typeof doc?.version === "string" ? tryParseVersion(doc.version) : undefined;
    if (!v)
      return problem(c, 400, "version: must be a semver version", {
        problems: [{ path: "version", message: "must be a semver version" }],
      });
    if (typeof doc?.critical !== "boolean")
      return problem(c, 400, "critical: must be true or false", {
        problems: [{ path: "critical", message: "must be a boolean" }],
      });
    await rollout.setCritical(formatVersion(v), doc.critical);
    return c.json(await rollout.releases());
  });
  publicDownloadRoutes(app, deps);
}

/** What hosts download without a token: artifacts, install.sh and this server's own executable. */
function publicDownloadRoutes(app: Hono<Env>, deps: AppDeps): void {
  const { store, artifacts } = deps;
  const serveArtifact = async (c: Context) => {
    const name = c.req.param("name") ?? "";
    // Hosts set up with this server's /artifacts follow to where the files are (a redirect, no bytes).
    if (artifacts.downloadUrl !== undefined && isStoredName(name))
      return c.redirect(joinUrl(artifacts.downloadUrl, name), 302);
    const path = artifacts.path(name);
    const meta = path ? await store.getArtifact(name) : undefined;
    if (!path || !meta) return problem(c, 404, `no artifact named ${JSON.stringify(name)}`);
    const res = await fileResponse(c, path, meta.size, `"${meta.sha256}"`);
    if (c.req.method === "GET" && res.status === 200) await countDownload(deps, name, meta.size);
    return res;
  };
  app.get("/artifacts/:name", serveArtifact);
  app.on("HEAD", "/artifacts/:name", serveArtifact);

  // Agent installation.
  app.get("/scripts/install.sh", (c) =>
    c.body(installScript(deps.publicUrl(), artifacts.downloadUrl), 200, {
      "content-type": "text/x-shellscript; charset=utf-8",
    }),
  );
  app.get("/download/:file", async (c) => {
    const file = c.req.param("file");
    const self = deps.self;
    if (!self || (file !== self.name && file !== `${self.name}.sha256`)) {
      return problem(
        c,
        404,
        `no download named ${JSON.stringify(file)}${self ? `: this server has ${self.name}` : ""}`,
      );
    }
    const sha = await self.sha256();
    if (file.endsWith(".sha256")) return c.text(`${sha}  ${self.name}\n`);
    const size = Bun.file(self.path).size;
    return fileResponse(c, self.path, size, `"${sha}"`);
  });
}

/**
 * Whole downloads served from here (delta downloads, issue 18): artifacts (`full`) and patches (`delta`),
 * and for each patch the bytes it saved (its artifact's size less its own). Resumed ranges are not counted.
 */
async function countDownload(deps: AppDeps, name: string, size: number): Promise<void> {
  const { store } = deps;
  const patch = parsePatchFileName(name);
  if (!patch && !name.endsWith(".tar.gz") && !isSelfExecutableName(name)) return;
  const kind = patch ? "delta" : "full";
  deps.metrics.inc("upkeep_artifact_downloads_total", "Whole artifact and patch downloads served", {
    kind,
  });
  deps.metrics.inc(
    "upkeep_artifact_download_bytes_total",
    "Bytes of whole artifact and patch downloads served",
    { kind },
    size,
  );
  if (!patch) return;
  const full = await store.getArtifact(patch.artifact).catch(() => undefined);
  if (full && full.size > size)
    deps.metrics.inc(
      "upkeep_delta_bytes_saved_total",
      "Bytes patches saved against the full artifacts they rebuild",
      {},
      full.size - size,
    );
}
