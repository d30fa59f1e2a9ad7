/**
 * `upkeep admin`: the operator's CLI for a running `upkeep serve` (DESIGN §4), like `tctl`.
 *
 *     upkeep admin [--server URL] [--token T] [--insecure] ...     # or UPKEEP_SERVER, UPKEEP_TOKEN
 *     upkeep admin apply -f resource.yaml [-f -] [--dry-run] [--force] [--json]  # config, version, server
 *     upkeep admin get config|version|rollout|agents|releases|server [--json]
 *     upkeep admin rollout start|force|done|rollback GROUP [--json]
 *     upkeep admin publish FILE... [--key PUBFILE] [--json]         # + FILE.sha256, FILE.minisig, *-releases.json
 *     upkeep admin tokens add --type agent|viewer [--name N] [--json]
 *     upkeep admin tokens list|rm ID [--json]
 *
 * Only flags are declared here; the HTTP client (server/client.ts), YAML and the file work load inside the
 * actions, so `upkeep --help` and the `tools` fast path stay light.
 */
import type { Command } from "commander";
import { printable } from "../core/text/printable.ts";
import type { ApiClient, ArtifactView, GroupAction, RolloutView } from "../server/client.ts";

interface ConnectionFlags {
  server?: string;
  token?: string;
  insecure?: boolean;
}

interface JsonFlag {
  json?: boolean;
}

const KINDS = ["autoupdate_config", "autoupdate_version", "server"] as const;
type ApplyKind = (typeof KINDS)[number];

/** Commander collector for repeatable flags. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The client for the group's connection flags (flags over UPKEEP_SERVER / UPKEEP_TOKEN). */
async function connect(cmd: Command): Promise<ApiClient> {
  const { UsageError } = await import("../core/errors.ts");
  const { ApiClient } = await import("../server/client.ts");
  const o = cmd.optsWithGlobals<ConnectionFlags>();
  const fromFlag = o.server !== undefined && o.server !== "";
  const server = fromFlag ? o.server : process.env.UPKEEP_SERVER;
  if (!server) {
    throw new UsageError("no server given: pass --server URL or set UPKEEP_SERVER", {
      hint: "e.g. upkeep admin --server https://upkeep.example.com get rollout",
    });
  }
  const token = o.token || process.env.UPKEEP_TOKEN || undefined;
  return new ApiClient({
    server,
    ...(token ? { token } : {}),
    insecure: o.insecure === true,
    serverFlag: fromFlag ? "--server" : "UPKEEP_SERVER",
  });
}

export function register(program: Command): void {
  const admin = program
    .command("admin")
    .description("operator CLI for a running upkeep serve (resources, rollout, releases, tokens)")
    .option("--server <url>", "the server's URL (or UPKEEP_SERVER); https unless loopback or --insecure")
    .option("--token <token>", "admin token (or UPKEEP_TOKEN, which keeps it out of `ps`)")
    .option("--insecure", "allow plain http to a host that is not loopback");

  admin
    .command("apply")
    .description(
      "create or replace resources from YAML (several `---` documents) or JSON files, like tctl create",
    )
    .requiredOption("-f, --filename <file>", "a resource file, `-` for stdin; repeatable", collect)
    .option(
      "--dry-run",
      "print what each group and client tools would be told (version, update, why); change nothing",
    )
    .option(
      "--force",
      "apply versions that are not in the release manifest published on this server (artifacts hosted elsewhere)",
    )
    .option("--json", "print what the server stored, and what each group is told")
    .action(async (opts: ApplyFlags, cmd: Command) => {
      const docs = await readDocuments(opts.filename);
      const client = await connect(cmd);
      await applyDocuments(client, docs, opts);
    });

  const get = admin.command("get").description("show a resource or the state of the rollout");
  const things: [string, string, (c: ApiClient, o: JsonFlag) => Promise<void>][] = [
    ["config", "the autoupdate_config resource", (c, o) => showResource(c, "autoupdate_config", o)],
    ["version", "the autoupdate_version resource", (c, o) => showResource(c, "autoupdate_version", o)],
    ["rollout", "the rollout: groups with state, agent counts, canaries, reason", showRollout],
    ["agents", "agents that reported, with group, version, state, last seen", showAgents],
    ["releases", "published artifacts and critical versions", showReleases],
    ["server", "the server's version, product, cluster name, edition", showServer],
  ];
  for (const [name, description, show] of things) {
    get
      .command(name)
      .description(description)
      .option("--json", "print the server's JSON verbatim")
      .action(async (opts: JsonFlag, cmd: Command) => show(await connect(cmd), opts));
  }

  const rollout = admin.command("rollout").description("operator actions on a rollout group");
  const actions: [GroupAction, string][] = [
    ["start", "start a group now (order and wait_hours still hold; canaries first if configured)"],
    ["force", "make a group active now, skipping its window, order, wait and canaries"],
    ["done", "mark a group done (e.g. to let a halt-on-error rollout go past it)"],
    ["rollback", "serve the group start_version again, with agent_auto_update true"],
  ];
  for (const [action, description] of actions) {
    rollout
      .command(action)
      .description(description)
      .argument("<group>", "the group's name (from the schedule in autoupdate_config)")
      .option("--json", "print the whole rollout after the action")
      .action(async (group: string, opts: JsonFlag, cmd: Command) => {
        const client = await connect(cmd);
        const view = await client.rolloutAction(group, action);
        const { report } = await import("./output.ts");
        report(opts, view, (v) => {
          const g = v.groups.find((x) => x.name === group);
          return g ? `group ${g.name}: ${g.state} (${g.reason})` : `group ${group}: ${action} accepted`;
        });
      });
  }

  admin
    .command("publish")
    .description(
      "upload release artifacts with FILE.sha256 and FILE.minisig beside them, and *-releases.json manifests",
    )
    .argument("[file...]", "artifact files (and manifests); checksums are verified before upload")
    .option(
      "--key <pubfile>",
      "also publish this minisign public key as <product>.pub, where `tools login` without --trust-key fetches it",
    )
    .option("--json", "print the uploaded files as JSON")
    .action(async (files: string[], opts: { key?: string } & JsonFlag, cmd: Command) => {
      if (files.length === 0 && opts.key === undefined) {
        const { UsageError } = await import("../core/errors.ts");
        throw new UsageError("nothing to publish: name artifact files, or --key PUBFILE");
      }
      const plan = files.length === 0 ? [] : await planPublish(files);
      const pubKey = opts.key === undefined ? undefined : await readPublicKeyFile(opts.key);
      const client = await connect(cmd);
      const keyUpload = pubKey ? await publicKeyUpload(client, pubKey) : undefined;
      await publish(client, keyUpload ? [keyUpload, ...plan] : plan, opts);
      if (pubKey && keyUpload && !opts.json) {
        const { print } = await import("./output.ts");
        const product = keyUpload.name.slice(0, -".pub".length);
        print(
          `public key ${pubKey.keyId} published as ${client.serverText}/artifacts/${keyUpload.name}: \`upkeep tools login --server ${client.serverText} --product ${product}\` trusts it on first use`,
        );
      }
    });

  const release = admin.command("release").description("release flags on the server");
  release
    .command("critical")
    .description("flag a release critical: agents apply it outside their maintenance windows")
    .argument("<version>", "the release version")
    .option("--off", "remove the flag (a manifest's own critical flag stays)")
    .option("--json", "print the releases as JSON")
    .action(async (version: string, opts: { off?: boolean } & JsonFlag, cmd: Command) => {
      const client = await connect(cmd);
      const view = await client.setCritical(version, opts.off !== true);
      const { report } = await import("./output.ts");
      report(opts, view, (v) => `critical releases: ${v.critical.length ? v.critical.join(", ") : "none"}`);
    });

  const tokens = admin
    .command("tokens")
    .description("tokens for agents and viewers (and listing/revoking any token)");
  tokens
    .command("list")
    .description("list tokens (id, type, name, created; never the secrets)")
    .option("--json", "print the list as JSON")
    .action(async (opts: JsonFlag, cmd: Command) => {
      const client = await connect(cmd);
      const view = await client.listTokens();
      const { report } = await import("./output.ts");
      report(opts, view, (v) =>
        v.tokens.map((t) => `${t.id}  ${t.type.padEnd(6)}  ${t.created}  ${printable(t.name)}`).join("\n"),
      );
    });
  tokens
    .command("rm")
    .description("revoke a token by its id (`tokens list`); the last admin token cannot be revoked")
    .argument("<id>", "the token's id")
    .option("--json", "print the result as JSON")
    .action(async (id: string, opts: JsonFlag, cmd: Command) => {
      const client = await connect(cmd);
      const view = await client.revokeToken(id);
      const { report } = await import("./output.ts");
      report(opts, view, (v) => `revoked ${v.revoked.type} token ${v.revoked.id} (${v.revoked.name})`);
    });
  tokens
    .command("add")
    .description("create a token (shown once; the server keeps only its hash)")
    .requiredOption(
      "--type <type>",
      "agent (sends reports: POST /v1/agents/report) or viewer (reads status: get rollout|agents|releases|..., /metrics)",
    )
    .option("--name <name>", "a name to recognise the token by")
    .option("--json", 'print {"type", "name", "token"}')
    .action(async (opts: { type: string; name?: string } & JsonFlag, cmd: Command) => {
      const { UsageError } = await import("../core/errors.ts");
      if (opts.type !== "agent" && opts.type !== "viewer") {
        throw new UsageError(
          `--type ${JSON.stringify(opts.type)}: only agent and viewer tokens can be created (the admin token comes from the server's first start or UPKEEP_ADMIN_TOKEN)`,
          { hint: "upkeep admin tokens add --type agent|viewer [--name N]" },
        );
      }
      const client = await connect(cmd);
      const t = await client.addToken(opts.type, opts.name);
      const { print, warn } = await import("./output.ts");
      if (opts.json) print(JSON.stringify(t, null, 2));
      else {
        print(t.token);
        warn(
          `${opts.type} token "${t.name}" created: it is shown once, keep it secret (${
            opts.type === "agent"
              ? "agents send it in reports"
              : "it reads the rollout, agents, releases and /metrics, and changes nothing"
          })`,
        );
      }
    });
}

// ---- apply ----

interface ApplyDoc {
  file: string;
  /** 1-based index of the document in its file. */
  index: number;
  kind: ApplyKind;
  value: Record<string, unknown>;
}

const where = (d: { file: string; index: number }) => `${d.file} document ${d.index}`;

/** Reads and checks every document of every file before anything is sent (kind known, a mapping). */
async function readDocuments(files: string[]): Promise<ApplyDoc[]> {
  const { UsageError } = await import("../core/errors.ts");
  const { parseAllDocuments } = await import("yaml");
  if (files.filter((f) => f === "-").length > 1) throw new UsageError("-f -: stdin can be read only once");
  const out: ApplyDoc[] = [];
  for (const file of files) {
    const name = file === "-" ? "<stdin>" : file;
    let text: string;
    try {
      text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new UsageError(
        `cannot read ${name}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
        { cause: e },
      );
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
      if (kind === "server" && typeof serverVersionOf(v) !== "string") {
        throw new UsageError(`${where(at)}: server_version: must be a version such as 17.0.1`, {
          code: "E_BAD_RESOURCE",
          hint: "nothing was applied",
        });
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
  const spec = v.spec as Record<string, unknown> | undefined;
  return v.server_version ?? (spec && typeof spec === "object" ? spec.server_version : undefined);
}

interface ApplyFlags extends JsonFlag {
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
async function applyDocuments(client: ApiClient, docs: ApplyDoc[], opts: ApplyFlags): Promise<void> {
  const { UpkeepError } = await import("../core/errors.ts");
  const { ApiError } = await import("../server/client.ts");
  const { print, warn } = await import("./output.ts");
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

// ---- get ----

async function showResource(
  client: ApiClient,
  kind: "autoupdate_config" | "autoupdate_version",
  opts: JsonFlag,
): Promise<void> {
  const resource = await client.getResource(kind);
  const { report } = await import("./output.ts");
  const { stringify } = await import("yaml");
  report(opts, resource, (r) =>
    Object.keys(r.spec ?? {}).length === 0
      ? `kind: ${kind}\n# not set: upkeep admin apply -f ${kind.replace("autoupdate_", "")}.yaml`
      : stringify(r).trimEnd(),
  );
}

/** Width to wrap text views to: the terminal's, else COLUMNS, else 100. */
async function textWidth(): Promise<number> {
  const { isatty } = await import("node:tty");
  const tty = isatty(1) ? process.stdout.columns : undefined;
  const env = Number(process.env.COLUMNS);
  const w = tty && tty > 0 ? tty : Number.isInteger(env) && env > 0 ? env : 100;
  return Math.max(40, w);
}

/** Splits `text` into lines of at most `width` characters at spaces; a longer word is split, never dropped. */
function wrap(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    let rest = word;
    while (rest.length > 0) {
      const room = line === "" ? w : w - line.length - 1;
      if (rest.length <= room) {
        line = line === "" ? rest : `${line} ${rest}`;
        rest = "";
      } else if (line !== "") {
        lines.push(line);
        line = "";
      } else {
        lines.push(rest.slice(0, w));
        rest = rest.slice(w);
      }
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * Aligned columns; the last column is not padded. Cells (hostnames, errors agents sent) are escaped with
 * `printable`, so they stay in their cell. With `width`, the last column (a reason, an error) is shown whole,
 * never cut: wrapped at spaces in its column when at least 30 characters of it fit beside the others; else
 * under its row (`    reason: ...`, the column's title in lower case), wrapped to the width.
 */
function table(header: string[], rows: string[][], width?: number): string {
  const all = [header, ...rows].map((r) => r.map(printable));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const last = header.length - 1;
  const indent = widths.slice(0, last).reduce((a, b) => a + b + 2, 0);
  const line = (r: string[], n: number) =>
    r
      .slice(0, n)
      .map((cell, i) => (i === n - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  if (width === undefined || width - indent >= 30) {
    const room = width === undefined ? Number.POSITIVE_INFINITY : width - indent;
    return all
      .map((r) => {
        const cell = r[last] ?? "";
        const parts = cell.length <= room ? [cell] : wrap(cell, room);
        const first = `${line(r, last).padEnd(indent - 2)}  ${parts[0]}`.trimEnd();
        return [first, ...parts.slice(1).map((p) => " ".repeat(indent) + p)].join("\n");
      })
      .join("\n");
  }
  const label = `    ${(header[last] ?? "").toLowerCase()}: `;
  const pad = " ".repeat(label.length);
  return all
    .map((r, i) => {
      const cell = r[last] ?? "";
      if (i === 0 || cell === "") return line(r, last);
      const parts = wrap(cell, width - label.length);
      return [line(r, last), ...parts.map((p, k) => (k === 0 ? label : pad) + p)].join("\n");
    })
    .join("\n");
}

/** The last events shown by `get rollout` (the JSON has up to 100). */
const EVENTS_SHOWN = 10;

/** GET /v1/rollout, with the fields this CLI reads that older servers may lack. */
type RolloutAnswer = RolloutView & {
  server_version: string | null;
  adjusted?: { field: string; kind: string; from: string; to: string; why: string }[];
};

function rolloutText(v: RolloutAnswer, width: number): string {
  const server = v.server_version ?? "not set (no cap, no raise)";
  if (v.groups.length === 0 && v.target_version === null) {
    return [
      `no rollout (server_version ${server}): set autoupdate_version spec.agents`,
      "  upkeep admin apply -f version.yaml",
    ].join("\n");
  }
  const head = [
    `rollout ${v.start_version ?? "?"} -> ${v.target_version ?? "?"}`,
    `strategy ${v.strategy}`,
    `schedule ${v.schedule ?? "-"}`,
    `mode ${v.mode ?? "-"}`,
    `server_version ${server}`,
  ].reduce((lines: string[], item) => {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 2 + item.length <= width)
      lines[lines.length - 1] = `${last}  ${item}`;
    else lines.push(lines.length === 0 ? item : `  ${item}`);
    return lines;
  }, []);
  // Every cap or raise of the server version, each on its own (wrapped) line under the head.
  const adjusted = (v.adjusted ?? []).flatMap((a) =>
    wrap(printable(`${a.kind}: ${a.field} ${a.from} -> ${a.to}: ${a.why}`), width - 4).map((l, i) =>
      i === 0 ? l : `    ${l}`,
    ),
  );
  const rows = v.groups.map((g) => {
    const ok = g.canaries.filter((c) => c.success).length;
    return [
      g.name,
      g.state,
      String(g.present_count),
      String(g.up_to_date_count),
      String(g.failed_count),
      String(g.initial_count),
      g.canaries.length === 0 ? "-" : `${ok}/${g.canaries.length} ok`,
      g.start_time ?? "-",
      g.reason,
    ];
  });
  const out = [
    ...head,
    ...adjusted,
    table(
      ["GROUP", "STATE", "PRESENT", "UPDATED", "FAILED", "INITIAL", "CANARIES", "STARTED", "REASON"],
      rows,
      width,
    ),
  ];
  // The server lists the events oldest first (up to 100): the last ones, like a log's tail.
  const events = v.events.slice(-EVENTS_SHOWN);
  if (events.length > 0) {
    out.push(
      "",
      v.events.length > events.length ? `events (the last ${events.length}; --json has more):` : "events:",
      table(
        ["TIME", "GROUP", "CHANGE", "WHAT"],
        events.map((e) => [
          e.time,
          e.group || "-",
          e.from || e.to ? `${e.from || "-"} -> ${e.to || "-"}` : "-",
          e.reason,
        ]),
        width,
      ),
    );
  }
  return out.join("\n");
}

async function showRollout(client: ApiClient, opts: JsonFlag): Promise<void> {
  const view = (await client.getRollout()) as RolloutAnswer;
  const width = await textWidth();
  const { report } = await import("./output.ts");
  report(opts, view, (v) => rolloutText(v, width));
}

async function showAgents(client: ApiClient, opts: JsonFlag): Promise<void> {
  const body = await client.getAgents();
  const width = await textWidth();
  const { report } = await import("./output.ts");
  report(opts, body, (b) =>
    b.agents.length === 0
      ? "no agents have reported yet"
      : table(
          ["UPDATER_ID", "HOSTNAME", "GROUP", "VERSION", "STATE", "LAST_SEEN", "PRESENT", "ERROR"],
          b.agents.map((a) => [
            a.updater_id,
            a.hostname,
            a.group || "-",
            a.version,
            a.state,
            a.last_seen,
            a.present ? "yes" : "no",
            a.error ?? "",
          ]),
          width,
        ),
  );
}

async function showReleases(client: ApiClient, opts: JsonFlag): Promise<void> {
  const body = await client.getReleases();
  const { manifestExpiry } = await import("../core/trust/manifest_expiry.ts");
  const { report } = await import("./output.ts");
  report(opts, body, (b) => {
    const lines = [
      `product ${b.product}; critical versions: ${b.critical.length === 0 ? "none" : b.critical.join(", ")}`,
      ...manifestLines(b, manifestExpiry),
    ];
    lines.push(
      b.artifacts.length === 0
        ? "no artifacts published: upkeep admin publish FILE..."
        : table(
            ["NAME", "SIZE", "SHA256", "UPLOADED"],
            b.artifacts.map((a) => [a.name, String(a.size), a.sha256, a.uploaded ?? "-"]),
          ),
    );
    return lines.join("\n");
  });
}

/** The published manifest: serial, expiry (relative), floor, versions; a warning in its last week. */
function manifestLines(
  b: import("../server/client.ts").ReleasesView,
  expiry: typeof import("../core/trust/manifest_expiry.ts").manifestExpiry,
): string[] {
  const m = b.manifest;
  if (m === undefined) return [];
  if (m === null)
    return [
      "manifest: none published: hosts install nothing (upkeep release manifest, then upkeep admin publish)",
    ];
  return [
    `manifest: serial ${m.serial}, expires ${m.expires} (${expiry(m.expires, new Date()).relative}), floor ${m.floor ?? "none"}; versions ${m.versions.join(", ") || "none"}`,
    ...(m.warning ? [`WARNING: ${m.warning}`] : []),
  ];
}

async function showServer(client: ApiClient, opts: JsonFlag): Promise<void> {
  const info = await client.getServer();
  const { report } = await import("./output.ts");
  report(opts, info, (i) =>
    [
      `server_version ${i.server_version}`,
      `product        ${i.product}`,
      `cluster_name   ${i.cluster_name}`,
      `edition        ${i.edition}${i.fips ? " (fips)" : ""}`,
    ].join("\n"),
  );
}

// ---- publish ----

interface Upload {
  /** Path on disk. */
  path: string;
  /** Artifact name on the server (the file's base name). */
  name: string;
  /** sha256 of the local file, computed before upload. */
  sha256: string;
  size: number;
}

/** Same rule as the server (server/artifact_store.ts): one path segment of safe characters. */
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;
const SIDECARS = [".sha256", ".minisig"];
const MANIFEST_SUFFIX = "-releases.json";

async function sha256File(path: string): Promise<string> {
  const { hashFile } = await import("../core/sys/hash.ts");
  return (await hashFile(path, ["sha256"])).sha256 ?? "";
}

/**
 * Decides what to upload, in order: each artifact with its `.sha256` and `.minisig`, then the release
 * manifests (given, or found beside the files) with their `.minisig`, last so that a manifest never names
 * an artifact that is not there yet. Every local `.sha256` is checked here, before anything is sent.
 */
async function planPublish(files: string[]): Promise<Upload[]> {
  const { readdirSync, statSync } = await import("node:fs");
  const { basename, dirname, resolve } = await import("node:path");
  const { UpkeepError, UsageError } = await import("../core/errors.ts");

  const isFile = (p: string): boolean => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  for (const f of files) {
    if (!isFile(f)) throw new UsageError(`${f}: no such file (or not a regular file)`);
  }
  const given = new Set(files.map((f) => resolve(f)));
  const artifacts: string[] = [];
  const manifests: string[] = [];
  const seen = new Set<string>();
  const add = (list: string[], p: string) => {
    const abs = resolve(p);
    if (!seen.has(abs)) {
      seen.add(abs);
      list.push(abs);
    }
  };
  for (const f of files) {
    const abs = resolve(f);
    const sidecar = SIDECARS.find((s) => abs.endsWith(s));
    // A sidecar whose file is also given goes up with that file.
    if (sidecar && given.has(abs.slice(0, -sidecar.length))) continue;
    if (abs.endsWith(MANIFEST_SUFFIX)) add(manifests, abs);
    else add(artifacts, abs);
  }
  for (const dir of new Set(files.map((f) => dirname(resolve(f))))) {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.endsWith(MANIFEST_SUFFIX) && isFile(resolve(dir, entry))) add(manifests, resolve(dir, entry));
    }
  }

  const ordered: string[] = [];
  for (const p of [...artifacts, ...manifests]) {
    ordered.push(p);
    if (SIDECARS.some((s) => p.endsWith(s))) continue;
    for (const s of SIDECARS) if (isFile(p + s) && !ordered.includes(p + s)) ordered.push(p + s);
  }

  const uploads: Upload[] = [];
  for (const path of ordered) {
    const name = basename(path);
    if (!ARTIFACT_NAME.test(name) || name.includes("..")) {
      throw new UsageError(`${path}: ${JSON.stringify(name)} cannot be an artifact name`, {
        hint: "use letters, digits, '.', '_', '+', '-' only",
      });
    }
    const size = statSync(path).size;
    if (size === 0)
      throw new UsageError(`${path} is empty: nothing to publish`, { hint: "nothing was uploaded" });
    uploads.push({ path, name, sha256: await sha256File(path), size });
  }
  // Check every artifact against the .sha256 beside it, before the first byte goes out.
  for (const u of uploads) {
    if (u.name.endsWith(".sha256") || u.name.endsWith(".minisig")) continue;
    const sumFile = `${u.path}.sha256`;
    if (!isFile(sumFile)) continue;
    const line = (await Bun.file(sumFile).text()).split("\n")[0]?.trim() ?? "";
    const m = /^([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(line);
    if (!m) {
      throw new UpkeepError("E_CHECKSUM", `${sumFile}: not a sha256sum line (\`<hex>  ${u.name}\`)`, {
        hint: `regenerate it: sha256sum ${u.name} > ${u.name}.sha256`,
      });
    }
    const named = m[2]?.trim();
    if (named !== undefined && basename(named) !== u.name) {
      throw new UpkeepError("E_CHECKSUM", `${sumFile} is the checksum of ${named}, not of ${u.name}`, {
        hint: "nothing was uploaded",
      });
    }
    const expected = (m[1] as string).toLowerCase();
    if (expected !== u.sha256) {
      throw new UpkeepError(
        "E_CHECKSUM",
        `${u.path} does not match ${sumFile}: sha256 is ${u.sha256}, the file says ${expected}`,
        { hint: "nothing was uploaded; rebuild or re-download the artifact, or regenerate its .sha256" },
      );
    }
  }
  return uploads;
}

async function publish(client: ApiClient, uploads: Upload[], opts: JsonFlag): Promise<void> {
  const { UpkeepError } = await import("../core/errors.ts");
  const { ApiError } = await import("../server/client.ts");
  const { print } = await import("./output.ts");
  const done: (ArtifactView & { file: string })[] = [];
  for (const u of uploads) {
    let stored: ArtifactView;
    try {
      stored = await client.uploadArtifact(u.name, u.path);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // Name the file and say what is already on the server.
      throw new UpkeepError(e.code, `${u.path}: ${e.message}`, {
        cause: e,
        exitCode: e.exitCode,
        hint: `${e.hint ? `${e.hint}; ` : ""}${
          done.length === 0
            ? "nothing was uploaded"
            : `already uploaded: ${done.map((d) => d.name).join(", ")} (publishing again is safe)`
        }`,
      });
    }
    if (stored.sha256 !== u.sha256 || stored.size !== u.size) {
      throw new UpkeepError(
        "E_CHECKSUM",
        `${u.name}: the server stored ${stored.size} bytes with sha256 ${stored.sha256}, but the local file has ${u.size} bytes with sha256 ${u.sha256}`,
        { hint: "was the file changed during the upload? publish it again" },
      );
    }
    done.push({ file: u.path, name: stored.name, size: stored.size, sha256: stored.sha256 });
    if (!opts.json) print(`uploaded ${stored.name} (${stored.size} bytes, sha256 ${stored.sha256})`);
  }
  if (opts.json) print(JSON.stringify({ server: client.serverText, uploaded: done }, null, 2));
}

// ---- publish --key: the release public key, where `tools login` looks for it ----

/** A minisign public key file (refused unless it parses as one: never a secret key by mistake). */
async function readPublicKeyFile(path: string): Promise<{ path: string; keyId: string }> {
  const { statSync } = await import("node:fs");
  const { UsageError } = await import("../core/errors.ts");
  const { loadTrustedKeys } = await import("../core/sys/keys.ts");
  const { keyIdHex } = await import("../core/trust/minisign.ts");
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {}
  if (!isFile) throw new UsageError(`--key ${path}: no such file (the public key file, e.g. keys/NAME.pub)`);
  const [pk] = await loadTrustedKeys([path]);
  return { path, keyId: keyIdHex((pk as { keyId: Uint8Array }).keyId) };
}

/** The upload of the public key as `<product>.pub`, the server's product (`tools login` fetches that name). */
async function publicKeyUpload(client: ApiClient, key: { path: string; keyId: string }): Promise<Upload> {
  const { statSync } = await import("node:fs");
  const { product } = await client.getServer();
  return {
    path: key.path,
    name: `${product}.pub`,
    sha256: await sha256File(key.path),
    size: statSync(key.path).size,
  };
}
