/** The resource and server-version routes: reads, and every write through `applyDocs` (server/apply.ts). */
import type { Context, Hono } from "hono";
import type { AppDeps } from "./app.ts";
import { type ApplyKind, applyDocs, parseApplyBody, parseDoc } from "./apply.ts";
import { type Env, flag, type Guards, RESOURCE_BODY_LIMIT, readDocument, tooLarge } from "./http.ts";

export function resourceRoutes(app: Hono<Env>, deps: AppDeps, { admin, viewer, notDryRun }: Guards): void {
  const { rollout } = deps;
  // Resources.
  app.get("/v1/resources/autoupdate_config", viewer, (c) => c.json(rollout.getConfig()));
  app.get("/v1/resources/autoupdate_version", viewer, (c) => c.json(rollout.getVersion()));
  // Every write of a resource goes through applyDocs: validated, planned, checked against the published
  // manifest (unless ?force=1), stored in order; ?dry_run=1 answers the plan and changes nothing.
  const applyOptions = (c: Context) => ({
    dryRun: flag(c.req.query("dry_run")),
    force: flag(c.req.query("force")),
  });
  app.post("/v1/apply", admin, notDryRun, tooLarge(RESOURCE_BODY_LIMIT), async (c) => {
    const docs = parseApplyBody(await readDocument(c));
    return c.json(await applyDocs(rollout, docs, applyOptions(c), deps.now));
  });
  const putOne = (kind: ApplyKind, stored: () => unknown) => async (c: Context) => {
    const o = applyOptions(c);
    const result = await applyDocs(rollout, [parseDoc(kind, await readDocument(c))], o, deps.now);
    return c.json(o.dryRun ? result : stored());
  };
  app.put(
    "/v1/resources/autoupdate_config",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("autoupdate_config", () => rollout.getConfig()),
  );
  app.put(
    "/v1/resources/autoupdate_version",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("autoupdate_version", () => rollout.getVersion()),
  );
  app.get("/v1/server", viewer, (c) => c.json(rollout.serverInfo()));
  app.put(
    "/v1/server",
    admin,
    notDryRun,
    tooLarge(RESOURCE_BODY_LIMIT),
    putOne("server", () => rollout.serverInfo()),
  );
}
