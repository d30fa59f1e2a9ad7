import { describe, expect, spyOn, test } from "bun:test";
import * as fs from "node:fs";
import { createLogger } from "./log.ts";

const RAW = ["\n", "\r", "\x1b", "\x9b"];
const hasRaw = (s: string) => RAW.some((c) => s.includes(c));

function capture(format: "text" | "json", msg: string, fields: Record<string, unknown>): string {
  const spy = spyOn(fs, "writeSync").mockImplementation((() => 0) as never);
  try {
    createLogger(format, () => new Date(0))(msg, fields);
    return String(spy.mock.calls[0]?.[1]);
  } finally {
    spy.mockRestore();
  }
}

describe("serve's log lines", () => {
  const evil = "host\x1b[31m\nforged line\r\x9b2J";
  test("text: one line, control characters escaped, in the message and in field values", () => {
    const line = capture("text", `report from ${evil}`, { hostname: evil, plain: "abc" });
    expect(line.endsWith("\n")).toBe(true);
    expect(hasRaw(line.slice(0, -1))).toBe(false);
    expect(line).toContain("hostname=");
    expect(line).toContain("plain=abc");
    expect(line).toContain("\\x1b[31m");
  });
  test("json: still JSON with the same values, no raw control character", () => {
    const line = capture("json", "m\x9b", { hostname: evil });
    expect(hasRaw(line.slice(0, -1))).toBe(false);
    expect(JSON.parse(line)).toEqual({ time: new Date(0).toISOString(), msg: "m\x9b", hostname: evil });
  });
});
