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
  ["the agent's unit", true, agentUnit(input).text],
  ["the daemon's unit", true, daemonUnit(input).text],
  ["the drop-in", true, daemonDropIn(input).text],
  ["the operator's unit", false, "[Unit]\nDescription=hello\n[Service]\nExecStart=/usr/bin/hello\n"],
  ["the mark further down", false, "[Unit]\n# Written by upkeep agent enable\n"],
  ["an empty file", false, ""],
])("isOurUnit: %s is %p", (_what, want, text) => {
  expect(isOurUnit(text)).toBe(want);
});
