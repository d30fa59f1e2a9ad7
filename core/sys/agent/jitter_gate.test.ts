/** The loop's jitter wait: cut short by operator requests, announced to `agent update`, ended by stop. */
import { expect, test } from "bun:test";
import { JitterGate, waitingMessage } from "./jitter_gate.ts";
import type { JitterWait } from "./updater.ts";

const DAY = 86_400_000;
const wait = (ms = DAY): JitterWait => ({ from: "1.0.0", to: "1.1.0", ms, until: new Date(Date.now() + ms) });

/** Resolves to "pending" when `p` has not settled within a few event-loop turns. */
async function settled<T>(p: Promise<T>): Promise<T | "pending"> {
  return Promise.race([p, Bun.sleep(20).then(() => "pending" as const)]);
}

test("a wait lasts its time; a short one goes on", async () => {
  const g = new JitterGate();
  const long = g.wait(wait());
  expect(await settled(long)).toBe("pending");
  expect(g.waiting?.to).toBe("1.1.0");
  expect(await g.wait(wait(1))).toEqual({ go: true });
  // The long one is still the one in progress (a second pass never runs beside it in the loop; harmless).
});

test("preempt ends the wait in progress at once, unchanged, saying by what", async () => {
  const g = new JitterGate();
  const p = g.wait(wait());
  expect(await settled(p)).toBe("pending");
  const release = g.preempt("`agent update --now`");
  const r = await settled(p);
  expect(r).toEqual({
    go: false,
    why: "the jitter wait before updating to 1.1.0 was cut short by `agent update --now`",
  });
  expect(g.waiting).toBeUndefined();
  // A wait that starts while the request is pending (it was queued behind a pass still asking the
  // server) does not start at all.
  expect(await settled(g.wait(wait()))).toMatchObject({ go: false });
  release();
  release(); // twice is harmless
  expect(await settled(g.wait(wait()))).toBe("pending");
});

test("two pending requests: waits stay cut until both are done", async () => {
  const g = new JitterGate();
  const a = g.preempt("`agent pin`");
  const b = g.preempt("SIGUSR1");
  a();
  expect(await settled(g.wait(wait()))).toMatchObject({ go: false, why: expect.stringContaining("SIGUSR1") });
  b();
  expect(await settled(g.wait(wait()))).toBe("pending");
});

test("the stop signal ends a wait, and a wait never starts once stopped", async () => {
  const g = new JitterGate();
  const ac = new AbortController();
  const p = g.wait(wait(), ac.signal);
  ac.abort();
  expect(await settled(p)).toEqual({ go: false, why: "stopped during the jitter" });
  expect(await settled(g.wait(wait(), ac.signal))).toEqual({ go: false, why: "stopped during the jitter" });
});

test("onWait hears the wait in progress at once, and the next one when it starts", async () => {
  const g = new JitterGate();
  const heard: string[] = [];
  const off = g.onWait((w) => heard.push(w.to));
  void g.wait({ ...wait(), to: "2.0.0" });
  expect(heard).toEqual(["2.0.0"]);
  const late: string[] = [];
  g.onWait((w) => late.push(w.to));
  expect(late).toEqual(["2.0.0"]);
  off();
  g.preempt("`agent rollback`")();
  void g.wait({ ...wait(), to: "3.0.0" });
  expect(heard).toEqual(["2.0.0"]);
  expect(late).toEqual(["2.0.0", "3.0.0"]);
});

test("waitingMessage says how long, until when, and how to skip it", () => {
  const w = { from: "", to: "1.1.0", ms: 90_000, until: new Date("2030-01-01T00:01:30.000Z") };
  expect(waitingMessage(w, Date.parse("2030-01-01T00:00:00.000Z"))).toBe(
    "the agent run loop waits 90s more of jitter (until 2030-01-01T00:01:30.000Z) before updating nothing to 1.1.0; `upkeep agent update --now` updates at once",
  );
});
