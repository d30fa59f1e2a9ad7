/**
 * `upkeep admin`: the operator's CLI for a running `upkeep serve` (DESIGN §4), like `tctl`.
 *
 *     upkeep admin [--server URL] [--token T] [--insecure] ...     # or UPKEEP_SERVER, UPKEEP_TOKEN
 *     upkeep admin apply -f resource.yaml [-f -] [--dry-run] [--force] [--json]  # config, version, server
 *     upkeep admin get config|version|rollout|releases|server [--json]
 *     upkeep admin get rollout --format teleport [--json]            # kind autoupdate_agent_rollout
 *     upkeep admin get agents [--group G] [--version V] [--state S] [--hostname PREFIX] [--limit N]
 *         [--cursor C] [--json]                                      # one page, and how many match
 *     upkeep admin get agents --report [--json]                      # versions by group (tctl report)
 *     upkeep admin rollout start|force|done|rollback GROUP [--json]
 *     upkeep admin publish FILE... [--key PUBFILE] [--json]         # + FILE.sha256, FILE.minisig, *-releases.json
 *     upkeep admin tokens add --type agent|viewer [--name N] [--json]
 *     upkeep admin tokens list|rm ID [--json]
 *
 * Only flags are declared here; the work is in cmd/admin/ (apply, get, publish, tokens; connect and text
 * shared), loaded inside the actions with the HTTP client (server/client.ts) and YAML, so `upkeep --help`
 * and the `tools` fast path stay light.
 */
import type { Command } from "commander";
import type { ApiClient, GroupAction } from "../server/client.ts";
import type { ApplyFlags } from "./admin/apply.ts";
import { connect } from "./admin/connect.ts";
import type { AgentsFlags } from "./admin/get.ts";
import type { JsonFlag } from "./output.ts";

/** Commander collector for repeatable flags. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command): void {
  const admin = program
    .command("admin")
    .description("operator CLI for a running upkeep serve (resources, rollout, releases, tokens)")
    .option("--server <url>", "the server's URL (or UPKEEP_SERVER); https unless loopback or --insecure")
    .option("--token <token>", "admin token (or UPKEEP_TOKEN, which keeps it out of `ps`)")
    .option("--insecure", "allow plain http to a host that is not loopback");
  registerApply(admin);
  registerGet(admin);
  registerRollout(admin);
  registerPublish(admin);
  registerRelease(admin);
  registerTokens(admin);
}

function registerApply(admin: Command): void {
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
      const { applyDocuments, readDocuments } = await import("./admin/apply.ts");
      const docs = await readDocuments(opts.filename);
      const client = await connect(cmd);
      await applyDocuments(client, docs, opts);
    });
}

type Views = typeof import("./admin/get.ts");

function registerGet(admin: Command): void {
  const get = admin.command("get").description("show a resource or the state of the rollout");
  const things: [string, string, (v: Views, c: ApiClient, o: JsonFlag) => Promise<void>][] = [
    ["config", "the autoupdate_config resource", (v, c, o) => v.showResource(c, "autoupdate_config", o)],
    ["version", "the autoupdate_version resource", (v, c, o) => v.showResource(c, "autoupdate_version", o)],
    [
      "rollout",
      "the rollout: groups with state, agent counts, canaries, reason",
      (v, c, o) => v.showRollout(c, o),
    ],
    ["releases", "published artifacts and critical versions", (v, c, o) => v.showReleases(c, o)],
    ["server", "the server's version, product, cluster name, edition", (v, c, o) => v.showServer(c, o)],
  ];
  for (const [name, description, show] of things) {
    const c = get.command(name).description(description).option("--json", "print the server's JSON verbatim");
    if (name === "rollout")
      c.option(
        "--format <format>",
        "teleport: kind autoupdate_agent_rollout as tctl get prints it (YAML; JSON with --json)",
      );
    c.action(async (opts: JsonFlag, cmd: Command) =>
      show(await import("./admin/get.ts"), await connect(cmd), opts),
    );
  }
  get
    .command("agents")
    .description("agents that reported, with group, version, state, last seen: one page, and how many match")
    .option("--group <name>", "only agents counted in this group (an unknown or no group: the last one)")
    .option("--version <version>", "only agents running this version")
    .option("--state <state>", "only agents in this state: ok, updating, failed or rolledback")
    .option("--hostname <prefix>", "only agents whose host name starts with this")
    .option("--limit <n>", "agents per page, 1..1000 (default 100)")
    .option("--cursor <cursor>", "the page after the one that printed this cursor")
    .option("--report", "present agents by version and group (as tctl autoupdate agents report)")
    .option("--json", "print the server's JSON verbatim")
    .action(async (opts: AgentsFlags, cmd: Command) => {
      const { showAgents } = await import("./admin/get.ts");
      await showAgents(await connect(cmd), opts);
    });
}

function registerRollout(admin: Command): void {
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
}

function registerPublish(admin: Command): void {
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
      const { publishCommand } = await import("./admin/publish.ts");
      await publishCommand(files, opts, cmd);
    });
}

function registerRelease(admin: Command): void {
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
}

function registerTokens(admin: Command): void {
  const tokens = admin
    .command("tokens")
    .description("tokens for agents and viewers (and listing/revoking any token)");
  tokens
    .command("list")
    .description("list tokens (id, type, name, created; never the secrets)")
    .option("--json", "print the list as JSON")
    .action(async (opts: JsonFlag, cmd: Command) => {
      const { listTokens } = await import("./admin/tokens.ts");
      await listTokens(opts, cmd);
    });
  tokens
    .command("rm")
    .description("revoke a token by its id (`tokens list`); the last admin token cannot be revoked")
    .argument("<id>", "the token's id")
    .option("--json", "print the result as JSON")
    .action(async (id: string, opts: JsonFlag, cmd: Command) => {
      const { revokeToken } = await import("./admin/tokens.ts");
      await revokeToken(id, opts, cmd);
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
      const { addToken } = await import("./admin/tokens.ts");
      await addToken(opts, cmd);
    });
}
