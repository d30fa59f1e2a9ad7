/** The admin client for a command's connection flags (`--server`, `--token`, `--insecure`). */
import type { Command } from "commander";
import type { ApiClient } from "../../server/client.ts";

interface ConnectionFlags {
  server?: string;
  token?: string;
  insecure?: boolean;
}

/** The client for the group's connection flags (flags over UPKEEP_SERVER / UPKEEP_TOKEN). */
export async function connect(cmd: Command): Promise<ApiClient> {
  const { UsageError } = await import("../../core/errors.ts");
  const { ApiClient } = await import("../../server/client.ts");
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
