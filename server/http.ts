/**
 * The HTTP plumbing every route uses: refusals as JSON (Teleport's `{"error": {"message"}}` with upkeep's
 * `code`, `hint`, `problems` beside it: core/wire/error_body.ts; the status from the error code), request
 * bodies (JSON or YAML) and their size limits, and who may call what (`guards`).
 */
import type { Context, ErrorHandler, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parse as parseYaml } from "yaml";
import { isUpkeepError, UpkeepError } from "../core/errors.ts";
import { BadResourceError } from "../core/resources/mod.ts";
import { type ErrorExtra, errorBody } from "../core/wire/mod.ts";
import { type Store, StoreUnavailableError, type TokenKind } from "./store.ts";
import { bearer, type TokenChecker } from "./tokens.ts";

export const RESOURCE_BODY_LIMIT = 1024 * 1024;
export const REPORT_BODY_LIMIT = 64 * 1024;
export const ARTIFACT_BODY_LIMIT = 4 * 1024 * 1024 * 1024;

export type Env = { Variables: { route: string } };

/** HTTP status for each refusal code; anything unlisted is a usage error (400) or an internal error (500). */
const STATUS_BY_CODE: Partial<Record<string, 400 | 404 | 409 | 413 | 500>> = {
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_NOT_IN_MANIFEST: 409,
  E_MALFORMED: 400,
  E_USAGE: 400,
  E_BAD_VERSION: 400,
  E_BAD_RESOURCE: 400,
  E_SIZE: 413,
  E_IO: 500,
  E_INTERNAL: 500,
};

/** A query flag: `?x=1`, `?x=true` or a bare `?x`. */
export const flag = (v: string | undefined) => v !== undefined && v !== "0" && v !== "false";

const withArticle = (kind: string) => `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;

/** A refusal: `status` with the body `{"error": {"message": error}, ...extra}` (core/wire errorBody). */
export function problem(
  c: Context,
  status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 500 | 503,
  error: string,
  extra: ErrorExtra = {},
) {
  return c.json(errorBody(error, extra), status);
}

/** Reads a JSON or YAML request body. Malformed -> 400 naming the problem. */
export async function readDocument(c: Context): Promise<unknown> {
  const text = await c.req.text();
  const type = c.req.header("content-type") ?? "";
  try {
    if (type.includes("json")) return JSON.parse(text);
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new UpkeepError(
      "E_MALFORMED",
      `request body is not valid ${type.includes("json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`,
      { exitCode: 2 },
    );
  }
}

export const tooLarge = (limit: number) =>
  bodyLimit({
    maxSize: limit,
    onError: (c) => problem(c, 413, `request body is larger than the limit of ${limit} bytes`),
  });

/** The checks a route is put behind (server/app.ts says which route gets which). */
export interface Guards {
  admin: MiddlewareHandler<Env>;
  /** Status reads. */
  viewer: MiddlewareHandler<Env>;
  reporter: MiddlewareHandler<Env>;
  /** Before a write is accepted (and a body read): the store must still keep what it is given. */
  writable: MiddlewareHandler<Env>;
  /** `writable`, unless the request is a dry run (`?dry_run=1`). */
  notDryRun: MiddlewareHandler<Env>;
}

export function guards(tokens: TokenChecker, store: Store): Guards {
  const requireToken = (kinds: TokenKind[]) => async (c: Context, next: () => Promise<void>) => {
    const token = bearer(c.req.header("authorization"));
    if (!token) return problem(c, 401, "missing token: send `Authorization: Bearer <token>`");
    const kind = await tokens.kindOf(token);
    if (kind === undefined) return problem(c, 401, "invalid token");
    if (!kinds.includes(kind))
      return problem(
        c,
        403,
        `${c.req.method} ${c.req.path} needs ${kinds.map(withArticle).join(" or ")} token; this is ${withArticle(kind)} token`,
        { code: "E_UNAUTHORIZED" },
      );
    await next();
  };
  const admin = requireToken(["admin"]);
  const viewer = requireToken(["viewer", "admin"]);
  const reporter = requireToken(["agent", "admin"]);
  const writable = async (_c: Context, next: () => Promise<void>) => {
    store.assertWritable();
    await next();
  };
  const notDryRun = async (c: Context, next: () => Promise<void>) => {
    if (!flag(c.req.query("dry_run"))) store.assertWritable();
    await next();
  };
  return { admin, viewer, reporter, writable, notDryRun };
}

/** The answer to an error a route threw: its status and JSON body; anything unexpected is logged. */
export function errorHandler(
  log: (msg: string, fields?: Record<string, unknown>) => void,
): ErrorHandler<Env> {
  return (err, c) => {
    if (err instanceof StoreUnavailableError) {
      return problem(c, 503, err.message, {
        code: err.code,
        file: err.file,
        ...(err.hint ? { hint: err.hint } : {}),
      });
    }
    if (err instanceof BadResourceError) {
      return problem(c, 400, err.message, { code: err.code, problems: err.problems });
    }
    if (isUpkeepError(err)) {
      const hint = err.hint ? { hint: err.hint } : {};
      const status = STATUS_BY_CODE[err.code] ?? (err.exitCode === 2 ? 400 : 500);
      if (status === 500) log("internal error", { route: c.req.path, code: err.code, error: err.message });
      return problem(c, status, err.message, { code: err.code, ...hint });
    }
    log("internal error", { route: c.req.path, error: String(err) });
    return problem(c, 500, "internal error", { code: "E_INTERNAL" });
  };
}
