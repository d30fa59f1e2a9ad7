/** The agent report: what an agent sends is what the server keeps; what the server refuses, field by field. */
import { describe, expect, test } from "bun:test";
import { BadResourceError } from "../resources/bad_resource_error.ts";
import { parseReport, reportBody } from "./mod.ts";

const base = { updaterId: "u1", hostname: "web-1", group: "prod", version: "17.0.1", state: "ok" as const };

describe("reportBody -> parseReport", () => {
  test("the exact bytes an agent sends: empty fields left out, long ones cut", () => {
    expect(JSON.stringify(reportBody(base))).toBe(
      '{"updater_id":"u1","hostname":"web-1","group":"prod","version":"17.0.1","state":"ok"}',
    );
    const failed = reportBody({
      ...base,
      group: "",
      hostname: "",
      state: "rolledback",
      error: "e".repeat(2500),
      failedVersion: "18.0.0",
    });
    expect(Object.keys(failed)).toEqual([
      "updater_id",
      "hostname",
      "version",
      "state",
      "error",
      "failed_version",
    ]);
    expect(failed.hostname).toBe("unknown");
    expect(failed.error).toHaveLength(2000);
    expect(reportBody({ ...base, hostname: "h".repeat(300) }).hostname).toHaveLength(255);
  });

  test.each([
    [base, { updater_id: "u1", hostname: "web-1", group: "prod", version: "17.0.1", state: "ok" }],
    [
      { ...base, group: "", state: "failed" as const, error: "smoke test failed", failedVersion: "v18.0.0" },
      {
        updater_id: "u1",
        hostname: "web-1",
        group: "",
        version: "17.0.1",
        state: "failed",
        error: "smoke test failed",
        failed_version: "18.0.0",
      },
    ],
  ])("round trip %#", (sent, kept) => {
    expect(parseReport(JSON.parse(JSON.stringify(reportBody(sent))))).toEqual(kept as never);
  });
});

describe("parseReport refuses, naming every field at fault", () => {
  const ok = { updater_id: "u1", hostname: "h", version: "1.0.0", state: "ok" };
  const problems = (doc: unknown): string[] => {
    try {
      parseReport(doc);
    } catch (e) {
      if (e instanceof BadResourceError) return e.problems.map((p) => `${p.path}: ${p.message}`);
      throw e;
    }
    return [];
  };
  test.each([
    [null, [": must be a JSON object"]],
    [[ok], [": must be a JSON object"]],
    [{ ...ok, extra: 1 }, ["extra: unknown field"]],
    [{ ...ok, updater_id: "" }, ["updater_id: must be a non-empty string of at most 128 characters"]],
    [
      { ...ok, hostname: "h".repeat(256) },
      ["hostname: must be a non-empty string of at most 255 characters"],
    ],
    [{ ...ok, group: 3 }, ["group: must be a non-empty string of at most 64 characters"]],
    [{ ...ok, version: "latest" }, ["version: must be a semver version"]],
    [{ ...ok, failed_version: "x" }, ["failed_version: must be a semver version"]],
    [{ ...ok, state: "happy" }, ["state: must be one of ok, updating, failed, rolledback"]],
    [{ ...ok, error: 5 }, ["error: must be a string"]],
    [
      { state: "ok", nope: true },
      [
        "nope: unknown field",
        "updater_id: must be a non-empty string of at most 128 characters",
        "hostname: must be a non-empty string of at most 255 characters",
        "version: must be a non-empty string of at most 64 characters",
      ],
    ],
    [ok, []],
  ])("%j", (doc, want) => expect(problems(doc)).toEqual(want));
});

describe("the updater's own version in reports (DESIGN §9)", () => {
  test("sent when known, kept canonical; an older agent's report without them still parses", () => {
    const body = reportBody({ ...base, updaterVersion: "0.2.0", updaterFailedVersion: "0.3.0" });
    expect(Object.keys(body).slice(-2)).toEqual(["updater_version", "updater_failed_version"]);
    expect(parseReport(JSON.parse(JSON.stringify({ ...body, updater_version: "v0.2.0" })))).toMatchObject({
      updater_version: "0.2.0",
      updater_failed_version: "0.3.0",
    });
    const old = parseReport(JSON.parse(JSON.stringify(reportBody(base))));
    expect("updater_version" in old).toBe(false);
    expect("updater_failed_version" in old).toBe(false);
  });

  test("a bad updater version is refused naming the field", () => {
    for (const field of ["updater_version", "updater_failed_version"]) {
      const doc = { ...reportBody(base), [field]: "newest" };
      let error: unknown;
      try {
        parseReport(doc);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BadResourceError);
      expect((error as BadResourceError).problems).toEqual([
        { path: field, message: "must be a semver version" },
      ]);
    }
  });
});
