// The Store contract (store_contract.ts) on the PostgreSQL store: a throwaway server (test/pg_harness.ts),
// a database per test. Skipped with a message when PostgreSQL is not installed; under CI it must run.
import { afterAll, beforeAll } from "bun:test";
import { type Postgres, pgAvailable, pgSkip, startPostgres } from "../test/pg_harness.ts";
import { PgStore } from "./pg_store.ts";
import { storeContract } from "./store_contract.ts";

const skip = pgSkip("server/pg_store.contract.test.ts");
let pg: Postgres | undefined;
beforeAll(async () => {
  if (!skip) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

storeContract("PostgreSQL", {
  sharedNotifications: true,
  ...(skip ? { skip: pgAvailable() } : {}),
  fresh: async () => {
    const url = await (pg as Postgres).createDatabase();
    return () => PgStore.open(url);
  },
});
