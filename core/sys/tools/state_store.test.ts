import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ToolsState } from "../../tools/types.ts";
import { readToolsState, updateToolsState, writeToolsState } from "./state_store.ts";

const root = mkdtempSync(join(tmpdir(), "upkeep-tools-state-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `t${n++}`);
const base: ToolsState = { server: "https://s", product: "hello", trustKeys: ["k"], enrolled: true };

test("the serial never goes down, unless the caller resets it (another manifest)", async () => {
  const dir = fresh();
  await updateToolsState(dir, () => ({ ...base, lastSerial: 10 }));
  // A writer that read the file before the serial went up, writing back what it had.
  await updateToolsState(dir, (s) => ({ ...s, lastSerial: 5 }));
  expect(readToolsState(dir).state.lastSerial).toBe(10);
  await updateToolsState(dir, (s) => ({ ...s, lastSerial: 12 }));
  expect(readToolsState(dir).state.lastSerial).toBe(12);
  await updateToolsState(
    dir,
    (s) => {
      const next = { ...s };
      delete next.lastSerial;
      return next;
    },
    { resetSerial: true },
  );
  expect(readToolsState(dir).state.lastSerial).toBeUndefined();
});

test("concurrent writers each change their own field: none is lost", async () => {
  const dir = fresh();
  await writeToolsState(dir, base); // a state built from scratch (the directory is made by the first update)
  const fields = Array.from({ length: 12 }, (_, i) => `k${i}`);
  await Promise.all(
    fields.map((k) => updateToolsState(dir, (s) => ({ ...s, trustKeys: [...s.trustKeys, k].sort() }))),
  );
  expect(readToolsState(dir).state.trustKeys).toEqual(["k", ...fields].sort());
});

test("a damaged file is refused, or moved aside for login (named to the caller)", async () => {
  const dir = fresh();
  await updateToolsState(dir, () => base);
  writeFileSync(join(dir, "tools.json"), "{ not json");
  await expect(updateToolsState(dir, (s) => s)).rejects.toMatchObject({ code: "E_MALFORMED" });
  let aside = "";
  const written = await updateToolsState(dir, (s, exists) => ({ ...s, server: exists ? "old" : "new" }), {
    now: new Date("2026-01-02T03:04:05.678Z"),
    onDamaged: (p) => {
      aside = p;
    },
  });
  expect(aside).toBe(join(dir, "tools.json.bad-20260102T030405678Z"));
  expect(readFileSync(aside, "utf8")).toBe("{ not json");
  expect(written).toEqual({ trustKeys: [], enrolled: false, server: "new" });
  expect(readdirSync(dir).sort()).toEqual([
    "tools.json",
    "tools.json.bad-20260102T030405678Z",
    "tools.json.lock",
  ]);
});
