/** `upkeep admin get ...`: a resource, the rollout, agents, releases or the server, as text or JSON. */

import { UpkeepError, UsageError } from "../../core/errors.ts";
import { printable } from "../../core/text/printable.ts";
import { manifestExpiry } from "../../core/trust/manifest_expiry.ts";
import type { AgentsFilter } from "../../core/wire/mod.ts";
import type { ApiClient, ReleasesView, RolloutView } from "../../server/client.ts";
import { type JsonFlag, report } from "../output.ts";
import { table, textWidth, wrap } from "./text.ts";

export async function showResource(
  client: ApiClient,
  kind: "autoupdate_config" | "autoupdate_version",
  opts: JsonFlag,
): Promise<void> {
  const resource = await client.getResource(kind);
  const { stringify } = await import("yaml");
  report(opts, resource, (r) =>
    Object.keys(r.spec ?? {}).length === 0
      ? `kind: ${kind}\n# not set: upkeep admin apply -f ${kind.replace("autoupdate_", "")}.yaml`
      : stringify(r).trimEnd(),
  );
}

/** The last events shown by `get rollout` (the JSON has up to 100). */
const EVENTS_SHOWN = 10;

/** GET /v1/rollout, with the fields this CLI reads that older servers may lack. */
type RolloutAnswer = RolloutView & {
  server_version: string | null;
  adjusted?: { field: string; kind: string; from: string; to: string; why: string }[];
};

/** One row of the group table. */
function groupRow(g: RolloutAnswer["groups"][number]): string[] {
  // As `tctl autoupdate agents status`: the canaries that succeeded, of the group's canary_count.
  const ok = g.canary_success_count ?? g.canaries.filter((c) => c.success).length;
  const want = Math.max(g.canary_count ?? 0, g.canaries.length);
  return [
    g.name,
    g.state,
    String(g.present_count),
    String(g.up_to_date_count),
    String(g.failed_count),
    String(g.initial_count),
    g.canaries.length === 0 ? "-" : `${ok}/${want} ok`,
    g.start_time ?? "-",
    g.reason,
  ];
}

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
    `mode ${v.effective_mode ?? v.mode ?? "-"}`,
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
  const rows = v.groups.map(groupRow);
  const out = [
    ...head,
    ...adjusted,
    table(
      ["GROUP", "STATE", "PRESENT", "UPDATED", "FAILED", "INITIAL", "CANARIES", "STARTED", "REASON"],
      rows,
      width,
    ),
  ];
  // What `tctl autoupdate agents status` adds: the rollout's state and the catch-all group.
  const catchAll = v.groups.find((g) => g.catch_all);
  if (v.state)
    out.push(
      ...wrap(
        `rollout state ${v.state}${catchAll ? `; catch-all group ${printable(catchAll.name)} (agents with an unknown or no group)` : ""}`,
        width,
      ),
    );
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

/** `admin get rollout` flags: `--format teleport` prints kind autoupdate_agent_rollout. */
export interface RolloutFlags extends JsonFlag {
  format?: string;
}

export async function showRollout(client: ApiClient, opts: RolloutFlags): Promise<void> {
  if (opts.format !== undefined && opts.format !== "teleport" && opts.format !== "text")
    throw new UsageError(`--format ${JSON.stringify(opts.format)}: use text (the default) or teleport`);
  const view = (await client.getRollout()) as RolloutAnswer;
  if (opts.format === "teleport") {
    const { teleportRollout } = await import("./get_teleport.ts");
    const resource = teleportRollout(view, await client.getResource("autoupdate_config"));
    if (resource === undefined)
      throw new UpkeepError(
        "E_NOT_FOUND",
        "no autoupdate_agent_rollout: autoupdate_version has no spec.agents (start_version, target_version)",
        { hint: "upkeep admin apply -f version.yaml" },
      );
    const { stringify } = await import("yaml");
    report(opts, resource, (r) => stringify(r).trimEnd());
    return;
  }
  const width = await textWidth();
  report(opts, view, (v) => rolloutText(v, width));
}

/** `admin get agents` flags: the filters of `GET /v1/agents`, a page size and where to start. */
export interface AgentsFlags extends JsonFlag {
  group?: string;
  version?: string;
  state?: string;
  hostname?: string;
  limit?: string;
  cursor?: string;
  /** The per-group version histogram of the present agents (`tctl autoupdate agents report`). */
  report?: boolean;
}

const FILTERS = ["group", "version", "state", "hostname"] as const;

export async function showAgents(client: ApiClient, opts: AgentsFlags): Promise<void> {
  if (opts.report) return showAgentsReport(client, opts);
  const filter: AgentsFilter = {};
  for (const k of FILTERS) if (opts[k] !== undefined) filter[k] = opts[k];
  if (opts.limit !== undefined) {
    if (!/^\d+$/.test(opts.limit))
      throw new UsageError(`--limit ${JSON.stringify(opts.limit)}: not a number`);
    filter.limit = Number(opts.limit);
  }
  if (opts.cursor !== undefined) filter.cursor = opts.cursor;
  const body = await client.getAgents(filter);
  const width = await textWidth();
  report(opts, body, (b) => agentsText(b, opts, width));
}

/**
 * `admin get agents --report`: how many present agents run each version, per group, as `tctl autoupdate
 * agents report` prints it. Each group's agents are counted by the server's own placement (an unknown or
 * no group: the last group, the catch-all), page by page.
 */
async function showAgentsReport(client: ApiClient, opts: AgentsFlags): Promise<void> {
  const other = FILTERS.filter((k) => opts[k] !== undefined);
  if (other.length > 0 || opts.limit !== undefined || opts.cursor !== undefined)
    throw new UsageError(
      `--report counts every present agent of every group: it takes no ${[...other, ...(opts.limit ? ["limit"] : []), ...(opts.cursor ? ["cursor"] : [])].map((k) => `--${k}`).join(", ")}`,
    );
  const config = (await client.getResource("autoupdate_config")) as {
    spec?: { agents?: { schedules?: { regular?: { name: string }[] } } };
  };
  const names = (config.spec?.agents?.schedules?.regular ?? []).map((g) => g.name);
  const byGroup: [string, string[]][] = [];
  for (const group of names.length === 0 ? ["default"] : names) {
    const versions: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.getAgents({
        group,
        present: true,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      for (const a of page.agents) versions.push(a.version);
      cursor = "next" in page && page.next ? page.next : undefined;
    } while (cursor);
    byGroup.push([group, versions]);
  }
  const { agentReport } = await import("./get_teleport.ts");
  const { compareVersions } = await import("../../core/version/compare_versions.ts");
  const { tryParseVersion } = await import("../../core/version/try_parse_version.ts");
  const compare = (a: string, b: string) => {
    const [x, y] = [tryParseVersion(a), tryParseVersion(b)];
    return x && y ? compareVersions(x, y) : a.localeCompare(b);
  };
  const summary = agentReport(byGroup, compare);
  const width = await textWidth();
  report(opts, summary, (r) => {
    if (r.agent_count === 0) return "no present agents: none reported within the presence window";
    const last = r.groups.length - 1;
    const header = ["VERSION", ...r.groups.map((g, i) => (i === last ? `${g} (catch-all)` : g))];
    const rows = r.versions.map((v) => [
      v,
      ...r.groups.map((g) => String(r.counts.find((c) => c.group === g && c.version === v)?.count ?? 0)),
    ]);
    return [
      `${r.agent_count} present agents by version and group (an unknown or no group counts in the last)`,
      "",
      table(header, rows, width),
    ].join("\n");
  });
}

function agentsText(
  b: Awaited<ReturnType<ApiClient["getAgents"]>>,
  opts: AgentsFlags,
  width: number,
): string {
  const quote = (v: string) => (/^[\w.@:+/-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`);
  const filters = FILTERS.filter((k) => opts[k] !== undefined).map((k) => `--${k} ${quote(String(opts[k]))}`);
  if (b.agents.length === 0)
    return filters.length === 0 && opts.cursor === undefined
      ? "no agents have reported yet"
      : filters.length === 0
        ? "no more agents after this cursor"
        : `no agents match ${filters.join(" ")}`;
  // The updater's own version (DESIGN §9), once any agent of the page reports it (older agents do not).
  const updaters = b.agents.some((a) => a.updater_version || a.updater_failed_version);
  const rows = table(
    [
      "UPDATER_ID",
      "HOSTNAME",
      "GROUP",
      "VERSION",
      "STATE",
      ...(updaters ? ["UPDATER"] : []),
      "LAST_SEEN",
      "PRESENT",
      "ERROR",
    ],
    b.agents.map((a) => [
      a.updater_id,
      a.hostname,
      a.group || "-",
      a.version,
      a.state,
      ...(updaters ? [updaterText(a)] : []),
      a.last_seen,
      a.present ? "yes" : "no",
      a.error ?? "",
    ]),
    width,
  );
  // An older server lists every agent at once (no total, no pages).
  if (b.total === undefined) return rows;
  const what = filters.length === 0 ? "agents" : `agents matching ${filters.join(" ")}`;
  const lines = [rows, `${b.agents.length} of ${b.total} ${what}`];
  const again = [...filters, ...(opts.limit ? [`--limit ${quote(opts.limit)}`] : []), `--cursor ${b.next}`];
  if (b.next) lines.push(`next page: upkeep admin get agents ${again.join(" ")}`);
  return lines.join("\n");
}

/** The agent's updater version (`-`: an agent too old to say), and a self-update of it that failed. */
function updaterText(a: { updater_version?: string; updater_failed_version?: string }): string {
  const v = a.updater_version ?? "-";
  return a.updater_failed_version ? `${v} (${a.updater_failed_version} failed)` : v;
}

export async function showReleases(client: ApiClient, opts: JsonFlag): Promise<void> {
  const body = await client.getReleases();
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
function manifestLines(b: ReleasesView, expiry: typeof manifestExpiry): string[] {
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

export async function showServer(client: ApiClient, opts: JsonFlag): Promise<void> {
  const info = await client.getServer();
  report(opts, info, (i) =>
    [
      `server_version ${i.server_version}`,
      `product        ${i.product}`,
      `cluster_name   ${i.cluster_name}`,
      `edition        ${i.edition}${i.fips ? " (fips)" : ""}`,
      // An older server says nothing of the updaters.
      ...(i.updater_version_setting === undefined
        ? []
        : [
            `upkeep_version ${i.upkeep_version ?? "unknown"}`,
            `updater        ${i.updater_version ?? "none"} (${i.updater_version_setting}: ${i.updater_version_reason})`,
          ]),
    ].join("\n"),
  );
}
