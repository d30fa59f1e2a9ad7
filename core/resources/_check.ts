// Private validation helpers shared by the resource checkers (the kit is core/validate). Not re-exported from mod.ts.
import { LineCounter, parseDocument } from "yaml";
import { fieldPath, isRecord, type ProblemList, report, unknownKeys } from "../validate/mod.ts";
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";
import type { ResourceKind, ResourceMetadata } from "./types.ts";

export type Obj = Record<string, unknown>;

/** A short rendering of a bad value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "a mapping";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Checks `v` is a mapping with only `allowed` keys; reports each unknown key by its full path. */
export function mapping(
  ctx: ProblemList,
  v: unknown,
  path: string,
  allowed: readonly string[],
): Obj | undefined {
  if (!isRecord(v)) {
    report(ctx, path, `must be a mapping (got ${show(v)})`);
    return undefined;
  }
  for (const key of unknownKeys(v, allowed))
    report(ctx, fieldPath(path, key), `unknown field (allowed: ${allowed.join(", ")})`);
  return v;
}

export function oneOf<T extends string>(
  ctx: ProblemList,
  o: Obj,
  key: string,
  path: string,
  values: readonly T[],
  dflt: T,
): T {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
  report(ctx, fieldPath(path, key), `must be one of ${values.join(", ")} (got ${show(v)})`);
  return dflt;
}

/** An integer in `min..max`; `undefined` when absent (no problem) or bad (problem reported). */
export function integer(
  ctx: ProblemList,
  o: Obj,
  key: string,
  path: string,
  min: number,
  max: number,
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    report(ctx, fieldPath(path, key), `must be an integer ${min}..${max} (got ${show(v)})`);
    return undefined;
  }
  return v;
}

export function optString(ctx: ProblemList, o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    report(ctx, fieldPath(path, key), `must be a string (got ${show(v)})`);
    return undefined;
  }
  return v;
}

/** A required semver string; returns it normalized (no leading `v`). */
export function version(ctx: ProblemList, o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) {
    report(ctx, fieldPath(path, key), "required (a semver version such as 17.0.1)");
    return undefined;
  }
  const parsed = typeof v === "string" ? tryParseVersion(v) : undefined;
  if (parsed === undefined) {
    report(ctx, fieldPath(path, key), `must be a semver version such as 17.0.1 (got ${show(v)})`);
    return undefined;
  }
  return formatVersion(parsed);
}

/**
 * Turns text (YAML or JSON; JSON is YAML) into a value; reports syntax errors at path "".
 * Anything that is not a string is taken as already parsed.
 */
export function load(ctx: ProblemList, input: unknown): unknown {
  if (typeof input !== "string") return input;
  const lineCounter = new LineCounter();
  const doc = parseDocument(input, { uniqueKeys: true, prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lineCounter.linePos(e.pos[0]);
      const where = ` at line ${pos.line}, column ${pos.col}`;
      report(ctx, "", `not valid YAML or JSON${where}: ${e.message.split("\n")[0]}`);
    }
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    report(ctx, "", `not valid YAML or JSON: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * Checks the envelope (`kind`, optional `version: v1`, optional `metadata`) and returns the root mapping
 * and `spec` (or `undefined` when the document cannot be read further).
 */
export function envelope(
  ctx: ProblemList,
  input: unknown,
  kind: ResourceKind,
): { metadata: ResourceMetadata; spec: unknown } | undefined {
  const value = load(ctx, input);
  if (ctx.problems.length > 0) return undefined;
  if (!isRecord(value)) {
    report(ctx, "", `must be a mapping with kind: ${kind} (got ${show(value)})`);
    return undefined;
  }
  if (value.kind === undefined) {
    report(ctx, "kind", `required (must be ${kind})`);
  } else if (value.kind !== kind) {
    // Another kind: everything else would be noise.
    report(ctx, "kind", `must be ${kind} (got ${show(value.kind)})`);
    return undefined;
  }
  // What `tctl get` prints is accepted (sub_kind, metadata.revision, metadata.expires, metadata.namespace):
  // a resource round-trips between Teleport and upkeep. Those are checked for their type and not kept.
  mapping(ctx, value, "", ["kind", "sub_kind", "version", "metadata", "spec"]);
  if (value.version !== undefined && value.version !== "v1") {
    report(ctx, "version", `must be v1, the only resource version (got ${show(value.version)})`);
  }
  optString(ctx, value, "sub_kind", "");
  const singleton = kind.replace("_", "-");
  const metadata: ResourceMetadata = { name: singleton };
  if (value.metadata !== undefined) {
    const m = mapping(ctx, value.metadata, "metadata", [
      "name",
      "description",
      "labels",
      "namespace",
      "revision",
      "expires",
    ]);
    if (m !== undefined) {
      for (const ignored of ["namespace", "revision", "expires"]) optString(ctx, m, ignored, "metadata");
      const name = optString(ctx, m, "name", "metadata");
      if (name !== undefined && name !== singleton) {
        report(ctx, "metadata.name", `must be ${singleton}: there is only one ${kind} (got ${show(name)})`);
      }
      const description = optString(ctx, m, "description", "metadata");
      if (description !== undefined) metadata.description = description;
      if (m.labels !== undefined) {
        if (!isRecord(m.labels))
          report(ctx, "metadata.labels", `must be a mapping of strings (got ${show(m.labels)})`);
        else {
          const labels: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.labels)) {
            if (typeof v === "string") labels[k] = v;
            else report(ctx, `metadata.labels.${k}`, `must be a string (got ${show(v)})`);
          }
          metadata.labels = labels;
        }
      }
    }
  }
  return { metadata, spec: value.spec };
}

/** Wire form of metadata: name always, the rest when set. */
export function formatMetadata(m: ResourceMetadata): Obj {
  const out: Obj = { name: m.name };
  if (m.description !== undefined) out.description = m.description;
  if (m.labels !== undefined) out.labels = { ...m.labels };
  return out;
}
