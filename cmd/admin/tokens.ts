/** `upkeep admin tokens list|rm|add`: tokens for agents and viewers. */
import type { Command } from "commander";
import { UsageError } from "../../core/errors.ts";
import { printable } from "../../core/text/printable.ts";
import { type JsonFlag, print, report, warn } from "../output.ts";
import { connect } from "./connect.ts";

export async function listTokens(opts: JsonFlag, cmd: Command): Promise<void> {
  const client = await connect(cmd);
  const view = await client.listTokens();
  report(opts, view, (v) =>
    v.tokens.map((t) => `${t.id}  ${t.type.padEnd(6)}  ${t.created}  ${printable(t.name)}`).join("\n"),
  );
}

export async function revokeToken(id: string, opts: JsonFlag, cmd: Command): Promise<void> {
  const client = await connect(cmd);
  const view = await client.revokeToken(id);
  report(opts, view, (v) => `revoked ${v.revoked.type} token ${v.revoked.id} (${v.revoked.name})`);
}

export async function addToken(
  opts: { type: string; name?: string } & JsonFlag,
  cmd: Command,
): Promise<void> {
  if (opts.type !== "agent" && opts.type !== "viewer") {
    throw new UsageError(
      `--type ${JSON.stringify(opts.type)}: only agent and viewer tokens can be created (the admin token comes from the server's first start or UPKEEP_ADMIN_TOKEN)`,
      { hint: "upkeep admin tokens add --type agent|viewer [--name N]" },
    );
  }
  const client = await connect(cmd);
  const t = await client.addToken(opts.type, opts.name);
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
}
