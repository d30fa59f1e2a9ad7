/** The token routes (admin only): list, create (agent or viewer), revoke (never the last admin token). */
import type { Hono } from "hono";
import type { TokenView } from "../core/wire/mod.ts";
import type { AppDeps } from "./app.ts";
import { type Env, type Guards, problem, REPORT_BODY_LIMIT, tooLarge } from "./http.ts";
import { TOKEN_KINDS } from "./store.ts";
import { generateToken, hashToken } from "./tokens.ts";

export function tokenRoutes(app: Hono<Env>, deps: AppDeps, { admin, writable }: Guards): void {
  const { store, tokens } = deps;
  // Tokens. Listed without their hashes; revoked by id (never the last admin token).
  const allTokens = async () => (await Promise.all(TOKEN_KINDS.map((k) => store.listTokens(k)))).flat();
  app.get("/v1/tokens", admin, async (c) => {
    const all = await allTokens();
    return c.json({
      tokens: all.map((t): TokenView => ({ id: t.id, type: t.kind, name: t.name, created: t.created })),
    });
  });
  app.delete("/v1/tokens/:id", admin, writable, async (c) => {
    const id = c.req.param("id") ?? "";
    const admins = await store.listTokens("admin");
    const t = (await allTokens()).find((x) => x.id === id);
    if (!t) return problem(c, 404, `no token with id ${JSON.stringify(id)}`);
    if (t.kind === "admin" && admins.length === 1)
      return problem(c, 409, "this is the last admin token: revoking it would lock everyone out", {
        hint: "restart the server with UPKEEP_ADMIN_TOKEN set to a new token instead",
      });
    await store.removeTokens([id]);
    tokens.invalidate();
    return c.json({ revoked: { id: t.id, type: t.kind, name: t.name } });
  });
  app.post("/v1/tokens", admin, writable, tooLarge(REPORT_BODY_LIMIT), async (c) => {
    const text = await c.req.text();
    let doc: { type?: unknown; name?: unknown } = {};
    try {
      doc = text.trim() ? JSON.parse(text) : {};
    } catch {
      return problem(c, 400, "request body is not valid JSON");
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc))
      return problem(c, 400, "request body must be a JSON object");
    const type = doc.type ?? "agent";
    if (type !== "agent" && type !== "viewer")
      return problem(
        c,
        400,
        "type: only `agent` (reports) and `viewer` (status reads) tokens can be created; the admin token comes from UPKEEP_ADMIN_TOKEN or the first start",
        { problems: [{ path: "type", message: "must be agent or viewer" }] },
      );
    const name = typeof doc.name === "string" && doc.name ? doc.name.slice(0, 128) : type;
    const token = generateToken();
    await store.addToken({
      id: crypto.randomUUID(),
      kind: type,
      hash: hashToken(token),
      name,
      created: deps.now().toISOString(),
    });
    tokens.invalidate();
    return c.json({ type, name, token }, 201);
  });
}
