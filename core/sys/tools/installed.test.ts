/** Which client-tools versions are installed: the agent's rule for a complete version (a well-formed marker). */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeMarker as marker } from "../../../scripts/fake-release.ts";
import { MARKER_FILE } from "../../install/layout.ts";
import { isInstalled, listInstalledTools } from "./installed.ts";

const dir = mkdtempSync(join(tmpdir(), "upkeep-installed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A version folder whose marker is `text` (a folder when `text` is undefined; none when null). */
function version(v: string, text: string | undefined | null): void {
  mkdirSync(join(dir, v, "bin"), { recursive: true });
  if (text === undefined) mkdirSync(join(dir, v, MARKER_FILE));
  else if (text !== null) writeFileSync(join(dir, v, MARKER_FILE), text);
}

const cases = [
  ["1.0.0", "a marker the installer writes", true, marker("1.0.0")],
  ["1.0.1", "a torn marker", false, '{"version":"1.0.1","artifact":"x","sha2'],
  ["1.0.2", "a file that is no marker", false, JSON.stringify({ version: "1.0.2" })],
  ["1.0.3", "an empty marker", false, ""],
  ["1.0.4", "no marker", false, null],
  ["1.0.5", "a folder for a marker", false, undefined],
  ["1.0.6", "a marker larger than any is", false, `${marker("1.0.6")}${" ".repeat(64 * 1024)}`],
] as const;
for (const [v, , , text] of cases) version(v, text);

test.each(cases)("isInstalled %s (%s) is %p", (v, _what, want) => {
  expect(isInstalled(dir, v)).toBe(want);
});

test("listInstalledTools lists the complete versions only", () => {
  expect(listInstalledTools(dir).map((i) => i.version)).toEqual(["1.0.0"]);
});
