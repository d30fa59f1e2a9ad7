/** `upkeep serve migrate --from DATA_DIR --to URL`: a SQLite server's state into PostgreSQL (server/pg_import.ts). */
import type { Command } from "commander";
import { UsageError } from "../core/errors.ts";
import { type JsonFlag, report } from "./output.ts";

export function registerMigrate(serve: Command): void {
  serve
    .command("migrate")
    .description("copy a SQLite server's state (data dir) into an empty PostgreSQL database, for replicas")
    .requiredOption("--from <dir>", "the data dir of the SQLite server (stopped)")
    .option("--to <url>", "the PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DB (or UPKEEP_STORE)")
    .option("--force", "replace what the database already holds")
    .option("--json", "print the counts as JSON")
    .action(runMigrate);
}

async function runMigrate(flags: { from: string; to?: string; force?: boolean } & JsonFlag): Promise<void> {
  const to = flags.to ?? (process.env.UPKEEP_STORE || undefined);
  if (to === undefined)
    throw new UsageError("serve migrate needs --to postgres://USER:PASSWORD@HOST:PORT/DB (or UPKEEP_STORE)");
  if (!/^postgres(ql)?:\/\//i.test(to))
    throw new UsageError("--to: not a postgres:// URL", {
      hint: "e.g. postgres://upkeep:PASSWORD@db:5432/upkeep",
    });
  const { importSqlite, describeCounts } = await import("../server/pg_import.ts");
  const r = await importSqlite({ from: flags.from, to, force: flags.force === true });
  report(flags, r, (r) =>
    [
      `copied ${r.from} into ${r.to}:`,
      `  ${describeCounts(r.counts, true)}${r.generation > 0 ? ` (rollout generation ${r.generation})` : ""}`,
      ...(r.replaced ? [`  replaced what the database held: ${describeCounts(r.replaced)}`] : []),
      "The artifact files stay in the data dir's artifacts/: put them where every replica serves them from.",
      `Next: start the replicas with --store (or UPKEEP_STORE); keep ${r.from} as a backup.`,
    ].join("\n"),
  );
}
