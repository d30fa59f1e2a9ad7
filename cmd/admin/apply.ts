/**
 * `upkeep admin apply`: resources read from YAML or JSON files (every document checked before anything is
 * sent), applied in one request, and what each group and the client tools are told after it.
 */
import { parseAllDocuments } from "yaml";
import { UpkeepError, UsageError } from "../../core/errors.ts";
import { ioError } from "../../core/sys/io_error.ts";
import { printable } from "../../core/text/printable.ts";
import { type ApiClient, ApiError } from "../../server/client.ts";
import { type JsonFlag, print, warn } from "../output.ts";
import { textWidth, wrap } from "./text.ts";

const KINDS = ["autoupdate_config", "autoupdate_version", "server"] as const;
type ApplyKind = (typeof KINDS)[number];

export interface ApplyDoc {
  file: string;
  /** 1-based index of the document in its file. */
  index: number;
  kind: ApplyKind;
  value: Record<string, unknown>;
}

const where = (d: { file: string; index: number }) => `${d.file} document ${d.index}`;

/** Reads and checks every document of every file before anything is sent (kind known, a mapping). */
export async function readDocuments(files: string[]): Promise<ApplyDoc[]> {
  if (files.filter((f) => f === "-").length > 1) throw new UsageError("-f -: stdin can be read only once");
  const out: ApplyDoc[] = [];
  for (const file of files) {
    const name = file === "-" ? "<stdin>" : file;
    let text: string;
    try {
      text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
    } catch (e) {
      throw new UsageError(ioError("read", name, e).message, { cause: e });
    }
    const values: unknown[] = [];
    const trimmed = text.trimStart();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      // JSON: one object, or an array of them. JSON.parse gives better messages than YAML would.
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`${name}: not valid JSON: ${(e as Error).message}`, { code: "E_MALFORMED" });
      }
      values.push(...(Array.isArray(v) ? v : [v]));
    } else {
      const docs = parseAllDocuments(text);
      for (const [i, doc] of docs.entries()) {
        const err = doc.errors[0];
        if (err) {
          throw new UsageError(`${name} document ${i + 1}: not valid YAML: ${err.message.split("\n")[0]}`, {
            code: "E_MALFORMED",
          });
        }
        values.push(doc.toJS({ maxAliasCount: 100 }));
      }
    }
    for (const [i, value] of values.entries()) {
      const at = { file: name, index: i + 1 };
      if (value === null || value === undefined) continue; // an empty document (`---` at the start or end)
      if (typeof value !== "object" || Array.isArray(value)) {
        throw new UsageError(`${where(at)}: must be a mapping with a kind`, { code: "E_BAD_RESOURCE" });
      }
      const v = value as Record<string, unknown>;
      const kind = v.kind;
      if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
        throw new UsageError(
          `${where(at)}: ${kind === undefined ? "no kind" : `unknown kind ${JSON.stringify(kind)}`}: use ${KINDS.join(", ")}`,
          { code: "E_BAD_RESOURCE", hint: "nothing was applied" },
        );
      }
      if (
        kind === "server" &&
        typeof serverVersionOf(v) !== "string" &&
        typeof fieldOf(v, "updater_version") !== "string"
      ) {
        throw new UsageError(
          `${where(at)}: server_version: must be a version such as 17.0.1 (or set updater_version)`,
          {
            code: "E_BAD_RESOURCE",
            hint: "nothing was applied",
          },
        );
      }
      out.push({ ...at, kind: kind as ApplyKind, value: v });
    }
  }
  if (out.length === 0) {
    throw new UsageError(`no resources in ${files.map((f) => (f === "-" ? "<stdin>" : f)).join(", ")}`);
  }
  return out;
}

/** `kind: server` takes `server_version` at the top or under `spec`. */
function serverVersionOf(v: Record<string, unknown>): unknown {
  return fieldOf(v, "server_version");
}

/** A field of `kind: server` (`server_version`, `updater_version`), at the top or under `spec`. */
function fieldOf(v: Record<string, unknown>, field: string): unknown {
  const spec = v.spec as Record<string, unknown> | undefined;
  return v[field] ?? (spec && typeof spec === "object" ? spec[field] : undefined);
}

export interface ApplyFlags extends JsonFlag {
  filename: string[];
  dryRun?: boolean;
  force?: boolean;
}

/** One answer of the plan (server/apply.ts planView). */
interface AnswerView {
  version: string;
  update: boolean;
  why: string;
  adjusted: { kind: string; from: string; to: string; why: string } | null;
}

interface ApplyAnswer {
  dry_run: boolean;
  forced: string[];
  applied: unknown[];
  plan: {
    now: string;
    groups: (AnswerView & {
      group: string;
      state: string;
      state_reason: string;
      next_window_open: string;
      canary: AnswerView | null;
    })[];
    tools: AnswerView;
    published: string[] | null;
  };
}

/**
 * Sends the whole set in one request (POST /v1/apply): the server checks every document, and the versions
 * the set makes hosts install against its published manifest, before it stores any. A refusal names the
 * file and document; nothing was applied.
 */
export async function applyDocuments(client: ApiClient, docs: ApplyDoc[], opts: ApplyFlags): Promise<void> {
  const query = [opts.dryRun ? "dry_run=1" : "", opts.force ? "force=1" : ""].filter(Boolean).join("&");
  let answer: ApplyAnswer;
  try {
    answer = await client.request<ApplyAnswer>("POST", `/v1/apply${query ? `?${query}` : ""}`, {
      body: JSON.stringify({ resources: docs.map((d) => d.value) }),
      contentType: "application/json",
    });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 400 || e.status === 413)) {
      // The server names the document by its index in the set: name its file and place instead.
      const m = /^resources\[(\d+)\]:? ?/.exec(e.message);
      const d = m ? docs[Number(m[1])] : undefined;
      throw new UpkeepError(e.code, d && m ? `${where(d)}: ${e.message.slice(m[0].length)}` : e.message, {
        cause: e,
        exitCode: 2,
        hint: "nothing was applied; fix the field named and apply again",
      });
    }
    if (e instanceof ApiError && e.serverCode === "E_NOT_IN_MANIFEST") {
      throw new UpkeepError("E_NOT_IN_MANIFEST", e.message, {
        cause: e,
        hint: (e.hint ?? "").replace(" (?force=1)", ""),
      });
    }
    throw e;
  }
  if (opts.json) {
    print(
      JSON.stringify(
        {
          dry_run: answer.dry_run,
          forced: answer.forced,
          applied: answer.applied.map((result, i) => {
            const d = docs[i] as ApplyDoc;
            return { file: d.file, document: d.index, kind: d.kind, result };
          }),
          plan: answer.plan,
        },
        null,
        2,
      ),
    );
    return;
  }
  const width = await textWidth();
  const lines: string[] = [];
  if (answer.dry_run) lines.push("dry run: nothing was changed; with these resources applied now:");
  else for (const d of docs) lines.push(`${d.kind} applied (${where(d)})`);
  lines.push(...planText(answer.plan, answer.dry_run, width));
  print(lines.join("\n"));
  if (answer.forced.length > 0) {
    warn(
      `${answer.dry_run ? "with --force: " : "applied with --force: "}${answer.forced.join(", ")} ${
        answer.plan.published === null
          ? "cannot be checked: no release manifest is published on this server"
          : "is not in the release manifest published on this server"
      }; hosts must get ${answer.forced.length === 1 ? "it" : "them"} from elsewhere`,
    );
  }
}

/** `3d 4h`, `11h 29m`, `12m`, `less than a minute`. */
function inTime(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 1) return "less than a minute";
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  if (d > 0) return `${d}d ${h}h`;
  return h > 0 ? `${h}h ${m % 60}m` : `${m}m`;
}

const isoSeconds = (iso: string) => iso.replace(/\.\d+Z$/, "Z");

/**
 * What each group is told after the apply (or would be, in a dry run): its state and version, when it
 * starts if it waits for its window (in UTC and from now) and how to start it now; in a dry run, why.
 */
function planText(plan: ApplyAnswer["plan"], why: boolean, width: number): string[] {
  const out: string[] = [];
  // The server's words stay on their lines (printable), then wrap.
  const said = (a: AnswerView) =>
    a.version === "" ? "no version, no update" : `${a.version}, ${a.update ? "update now" : "no update now"}`;
  const more = (text: string) =>
    wrap(printable(text), width - 4).map((l, i) => (i === 0 ? `  ${l}` : `    ${l}`));
  for (const g of plan.groups) {
    out.push(
      printable(
        `group ${g.group} (${g.state}): agents told ${said(g)}${g.canary ? `; its canaries ${said(g.canary)}` : ""}`,
      ),
    );
    if (why) out.push(...more(`why: ${g.why}`));
    const waitsForWindow = g.state === "unstarted" && /^waiting for its (first )?window/.test(g.state_reason);
    if (waitsForWindow) {
      const ms = Date.parse(g.next_window_open) - Date.parse(plan.now);
      out.push(
        ...more(`starts when its window opens: ${isoSeconds(g.next_window_open)} (in ${inTime(ms)})`),
        `  to start it now: upkeep admin rollout start ${printable(g.group)}`,
      );
    } else if (g.state_reason !== "") {
      out.push(...more(g.state_reason));
    }
  }
  out.push(printable(`client tools: told ${said(plan.tools)}`));
  if (why) out.push(...more(`why: ${plan.tools.why}`));
  return out;
}
