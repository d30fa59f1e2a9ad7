/** Table tests: what a failed pass means by its code, and the remaps that keep local problems from being verdicts. */
import { describe, expect, test } from "bun:test";
import { type ErrorCode, UpkeepError } from "../errors.ts";
import { failurePolicy, hostConfigProblem, manifestProblem } from "./failure_policy.ts";

describe("failurePolicy: code -> skip, report as failed, retry", () => {
  // [code, after the switch, skip, reportFailed, retry]
  const cases: [ErrorCode | undefined, boolean, boolean, boolean, boolean][] = [
    // The same signed bytes get the same verdict at every try: reported and never tried again.
    ["E_SMOKE", false, true, true, false],
    ["E_UNSAFE_ARCHIVE", false, true, true, false],
    ["E_MALFORMED", false, true, true, false],
    // The mirror's bytes or signature (mid-sync, a bad cache), or a floor that may move: reported, tried again.
    ["E_CHECKSUM", false, false, true, true],
    ["E_SIGNATURE", false, false, true, true],
    ["E_SIZE", false, false, true, true],
    ["E_BELOW_FLOOR", false, false, true, true],
    ["E_UNHEALTHY", false, false, true, true],
    // Nothing about the release: not reported, tried again.
    ["E_NETWORK", false, false, false, true],
    ["E_SERVER", false, false, false, true],
    ["E_NOT_FOUND", false, false, false, true],
    ["E_NOT_IN_MANIFEST", false, false, false, true],
    ["E_MANIFEST", false, false, false, true],
    ["E_EXPIRED", false, false, false, true],
    ["E_ROLLBACK", false, false, false, true],
    ["E_CONFLICT", false, false, false, true],
    ["E_HOST_CONFIG", false, false, false, true],
    ["E_EXISTS", false, false, false, true],
    ["E_NO_SPACE", false, false, false, true],
    ["E_IO", false, false, false, true],
    ["E_CANCELLED", false, false, false, true],
    ["E_INTERNAL", false, false, false, true],
    [undefined, false, false, false, true],
    // After the switch nothing is decided here: recovery finishes or undoes the update.
    ["E_SMOKE", true, false, false, true],
    ["E_IO", true, false, false, true],
    [undefined, true, false, false, true],
  ];
  for (const [code, after, skip, reportFailed, retry] of cases)
    test(`${code ?? "no code"}${after ? " after the switch" : ""}`, () =>
      expect(failurePolicy(code, after)).toEqual({ skip, reportFailed, retry }));
});

describe("manifestProblem: a release manifest that cannot be verified is never a verdict", () => {
  const cases: [string, Error, string | undefined, string][] = [
    [
      "a bad signature",
      new UpkeepError("E_SIGNATURE", "bad sig"),
      "E_MANIFEST",
      "release manifest: bad sig (E_SIGNATURE); tried again at the next pass",
    ],
    [
      "a malformed manifest",
      new UpkeepError("E_MALFORMED", "not JSON"),
      "E_MANIFEST",
      "release manifest: not JSON (E_MALFORMED); tried again at the next pass",
    ],
    ["a mirror not synced", new UpkeepError("E_NOT_FOUND", "404"), "E_NOT_FOUND", "404"],
    ["an older manifest", new UpkeepError("E_ROLLBACK", "serial 1 < 2"), "E_ROLLBACK", "serial 1 < 2"],
    ["not an UpkeepError", new Error("boom"), undefined, "boom"],
  ];
  for (const [what, e, code, message] of cases)
    test(what, () => {
      const out = manifestProblem(e) as Error & { code?: string };
      expect(out.code).toBe(code);
      expect(out.message).toBe(message);
      if (code === "E_MANIFEST") expect(out.cause).toBe(e);
      else expect(out).toBe(e);
    });
  test("the hint is kept", () => {
    const out = manifestProblem(new UpkeepError("E_SIZE", "x", { hint: "wait for the mirror" }));
    expect((out as UpkeepError).hint).toBe("wait for the mirror");
  });
});

describe("hostConfigProblem: this host's configuration is never the release's fault", () => {
  const cases: [unknown, string][] = [
    [new UpkeepError("E_MALFORMED", "bad key"), "this host's configuration: bad key"],
    [new Error("no product"), "this host's configuration: no product"],
    ["text", "this host's configuration: text"],
  ];
  for (const [e, message] of cases)
    test(message, () => {
      const out = hostConfigProblem(e, "/opt/upkeep/default/update.yaml");
      expect(out).toMatchObject({ code: "E_HOST_CONFIG", message });
      expect(out.hint).toContain("/opt/upkeep/default/update.yaml");
    });
});
