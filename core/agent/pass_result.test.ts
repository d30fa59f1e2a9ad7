/** Table test: a pass result as the one line `agent update` prints and the loop logs. */
import { expect, test } from "bun:test";
import { formatPassResult, type PassResult } from "./pass_result.ts";

const cases: [PassResult, string][] = [
  [
    { outcome: "updated", from: "1.0.0", to: "1.1.0", message: "updated from 1.0.0 to 1.1.0" },
    "updated: updated from 1.0.0 to 1.1.0",
  ],
  [
    { outcome: "failed", from: "1.0.0", to: "1.1.0", message: "smoke test: no", code: "E_SMOKE" },
    "failed: smoke test: no (E_SMOKE)",
  ],
  [
    {
      outcome: "rolledback",
      from: "1.0.0",
      to: "1.1.0",
      message: "1.1.0 was unhealthy",
      code: "E_UNHEALTHY",
    },
    "rolledback: 1.1.0 was unhealthy (E_UNHEALTHY)",
  ],
];
for (const [r, line] of cases) test(line, () => expect(formatPassResult(r)).toBe(line));

test("the message goes through the caller's escaping, the code does not need to", () => {
  const r: PassResult = { outcome: "error", from: "", to: "", message: "a\nb", code: "E_NETWORK" };
  expect(formatPassResult(r, (s) => JSON.stringify(s))).toBe('error: "a\\nb" (E_NETWORK)');
});
