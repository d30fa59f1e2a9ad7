/**
 * The body of every refusal the server answers: Teleport's shape, `{"error": {"message": "..."}}` (what
 * Teleport's clients decode, `PingErrorResponse` in api/client/webclient), with upkeep's own fields beside
 * it, flat: `code` (E_...), `hint`, `problems` (one per bad field), `file` (the database a 503 names). Built
 * here only; `readErrorBody` reads it, and the flat `{"error": "..."}` older upkeep servers answered. Pure.
 */

/** A bad field of a refused document. */
export interface ErrorProblem {
  path: string;
  message: string;
}

/** What upkeep adds beside Teleport's `error` object. */
export interface ErrorExtra {
  code?: string;
  hint?: string;
  problems?: readonly ErrorProblem[];
  file?: string;
}

export interface ErrorBody extends ErrorExtra {
  error: { message: string };
}

/** The refusal body saying `message` (and `extra`'s fields, when given). */
export function errorBody(message: string, extra: ErrorExtra = {}): ErrorBody {
  return { error: { message }, ...extra };
}

/** What a refusal body says, whichever shape it has; fields that are absent or of another type are left out. */
export interface ReadError {
  message?: string;
  code?: string;
  hint?: string;
  problems: ErrorProblem[];
}

/**
 * Reads a refusal body (JSON already decoded): `error.message` (Teleport's shape, this server's), or `error`
 * as a string (upkeep servers before Teleport's shape), or a flat `message`.
 */
export function readErrorBody(doc: unknown): ReadError {
  const d = isObject(doc) ? doc : {};
  const nested = isObject(d.error) ? d.error : undefined;
  const message =
    text(nested?.message) ?? (typeof d.error === "string" ? nonEmpty(d.error) : undefined) ?? text(d.message);
  const code = text(d.code) ?? text(nested?.code);
  const hint = text(d.hint);
  const problems = Array.isArray(d.problems)
    ? d.problems.filter(
        (p): p is ErrorProblem => isObject(p) && typeof p.path === "string" && typeof p.message === "string",
      )
    : [];
  return {
    ...(message === undefined ? {} : { message }),
    ...(code === undefined ? {} : { code }),
    ...(hint === undefined ? {} : { hint }),
    problems: problems.map((p) => ({ path: p.path, message: p.message })),
  };
}

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === "string" ? nonEmpty(v) : undefined;
}

function nonEmpty(s: string): string | undefined {
  return s === "" ? undefined : s;
}
