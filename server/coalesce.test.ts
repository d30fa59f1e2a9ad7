import { expect, test } from "bun:test";
import { Coalesce } from "./coalesce.ts";

function counter(gapMs: number) {
  let now = 0;
  const runs: number[] = [];
  const c: Coalesce = new Coalesce(
    async () => {
      c.started();
      runs.push(now);
    },
    { gapMs, onError: () => {}, clock: () => now },
  );
  return { c, runs, at: (ms: number) => (now = ms) };
}

test("the first request after a quiet spell runs at once; later ones within the gap fold into one run", async () => {
  const { c, runs, at } = counter(50);
  at(1000);
  await c.request();
  expect(runs).toEqual([1000]);
  at(1010);
  for (let i = 0; i < 100; i++) await c.request();
  expect(runs).toEqual([1000]);
  at(1060);
  await Bun.sleep(80); // the folded run, at the gap's end
  expect(runs).toEqual([1000, 1060]);
  at(2000);
  await c.request();
  expect(runs).toEqual([1000, 1060, 2000]);
  c.stop();
});

test("a run started elsewhere covers the requests before it: the folded run is dropped", async () => {
  const { c, runs, at } = counter(50);
  at(1000);
  await c.request();
  at(1010);
  await c.request(); // folded
  c.started(); // e.g. the reconcile timer
  await Bun.sleep(80);
  expect(runs).toEqual([1000]);
  c.stop();
});
