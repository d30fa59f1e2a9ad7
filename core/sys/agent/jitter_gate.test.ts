/** The loop's jitter wait outside the pass: one at a time, kept by later passes, cancelled, then a pass. */
import { expect, test } from "bun:test";
import { JitterGate, waitingMessage } from "./jitter_gate.ts";
import type { JitterWait } from "./pass_options.ts";

const DAY = 86_400_000;
const wait = (ms = DAY, to = "1.1.0"): JitterWait => ({
  from: "1.0.0",
  to,
  ms,
  until: new Date(Date.now() + ms),
});

function gate() {
  const started: string[] = [];
  const over: string[] = [];
  const g = new JitterGate({ onStart: (w) => started.push(w.to), onOver: (w) => over.push(w.to) });
  return { g, started, over };
}

test("a pass that would wait ends at once as waiting; the wait ends in a pass of its own", async () => {
  const { g, started, over } = gate();
  const r = await g.defer(wait(30));
  expect(r).toMatchObject({ go: false, waiting: true });
  expect(r.go === false && r.why).toMatch(
    /^waiting \d+s more of jitter \(until .*Z\) before updating 1\.0\.0 to 1\.1\.0; `upkeep agent update --now` updates at once$/,
  );
  expect(started).toEqual(["1.1.0"]);
  expect(g.waiting?.to).toBe("1.1.0");
  expect(over).toEqual([]);
  await Bun.sleep(80);
  expect(over).toEqual(["1.1.0"]);
  expect(g.waiting).toBeUndefined();
});

test("passes during a wait keep its end (a new draw each interval would put the update off for ever)", async () => {
  const { g, started } = gate();
  const first = wait(DAY);
  await g.defer(first);
  const later = await g.defer(wait(1000, "1.2.0"));
  expect(started).toEqual(["1.1.0"]);
  expect(g.waiting).toBe(first);
  expect(later.go === false && later.why).toContain(`(until ${first.until.toISOString()})`);
  g.cancel();
});

test("cancel drops the wait: no pass follows; a new wait may start", async () => {
  const { g, started, over } = gate();
  await g.defer(wait(30));
  expect(g.cancel()?.to).toBe("1.1.0");
  expect(g.cancel()).toBeUndefined();
  await Bun.sleep(80);
  expect(over).toEqual([]);
  await g.defer(wait(DAY, "1.2.0"));
  expect(started).toEqual(["1.1.0", "1.2.0"]);
  g.cancel();
});

test("a stopping agent starts no wait", async () => {
  const { g, started } = gate();
  const ac = new AbortController();
  ac.abort();
  expect(await g.defer(wait(), ac.signal)).toEqual({ go: false, why: "stopped during the jitter" });
  expect(started).toEqual([]);
});

test("waitingMessage: the time left, until when, and how to skip it", () => {
  const w = { from: "", to: "1.1.0", ms: 90_000, until: new Date("2030-01-01T00:01:30.000Z") };
  expect(waitingMessage(w, Date.parse("2030-01-01T00:00:00.000Z"))).toBe(
    "waiting 90s more of jitter (until 2030-01-01T00:01:30.000Z) before updating nothing to 1.1.0; `upkeep agent update --now` updates at once",
  );
});
