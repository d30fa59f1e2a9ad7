// The Store contract (store_contract.ts) on the SQLite store: a database file per test.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "./sqlite_store.ts";
import { storeContract } from "./store_contract.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract("SQLite", {
  sharedNotifications: false,
  fresh: async () => {
    const path = join(dir, `store-${++n}.db`);
    return async () => new SqliteStore(path);
  },
});
