import { expect, test } from "bun:test";
import { agentUnit, daemonDropIn, daemonUnit, isOurUnit, type UnitInput } from "./systemd.ts";

const input: UnitInput = {
  spec: { daemon: "hello", daemonArgs: [], binDir: "/usr/local/bin", product: "hello" },
  upkeepPath: "/usr/local/bin/upkeep",
  installDir: "/opt/upkeep",
  namespace: "default",
  interval: "5m",
};

// One rule for "upkeep wrote this unit" (enable replaces such a unit, uninstall disables and removes it).
test.each([
  ["the agent's unit", agentUnit(input).text, true],
  ["the daemon's unit", daemonUnit(input).text, true],
  ["the drop-in", daemonDropIn(input).text, true],
  ["the operator's unit", "[Unit]\nDescription=hello\n[Service]\nExecStart=/usr/bin/hello\n", false],
  ["the mark further down", "[Unit]\n# Written by upkeep agent enable\n", false],
  ["an empty file", "", false],
])("isOurUnit: %s is %p", (_what, text, want) => {
  expect(isOurUnit(text)).toBe(want);
});
