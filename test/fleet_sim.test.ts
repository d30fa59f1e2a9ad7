/**
 * Smoke test of the fleet simulator (scripts/bench/fleet.ts, issue 13) at a small N: it drives a real
 * `dist/upkeep serve` on loopback through seeding, both rollouts, a kill -9 and restart, and a storm, and
 * must find every decision right and no acknowledged report lost. No timing assertion: the benchmark's
 * figures are for the note, not for CI.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

test("fleet simulator: 60 agents through two rollouts, kill -9 and a storm; nothing lost, decisions right", async () => {
  const json = join(mkdtempSync(join(tmpdir(), "upkeep-fleet-")), "summary.json");
  // compress 120: each agent asks every 0.5 s and reports every 2.5 s; 10% of each group of 20 fail on
  // 1.2.0 (2 agents: exactly at the threshold, which is "more than 10%": the group must still end done).
  // The agent list is read 7 agents a page: 9 pages, every one followed.
  const proc = Bun.spawn(
    [
      process.execPath,
      "scripts/bench/fleet.ts",
      "--agents",
      "60",
      "--compress",
      "120",
      "--ref-agents",
      "30",
      "--window",
      "0.5",
      "--fail-ratio",
      "0.1",
      "--page-size",
      "7",
      "--no-pin",
      "--json",
      json,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  expect(code, `${stdout}\n${stderr}`).toBe(0);
  const s = JSON.parse(readFileSync(json, "utf8"));
  expect(s.ok).toBe(true);
  expect(s.rollouts.map((r: { right: boolean }) => r.right)).toEqual([true, true]);
  expect(s.rollouts[1].lines.join("\n")).toMatch(/start g3 \(after g2 rolled back\): 409/);
  type Loss = {
    when: string;
    lost: number;
    checked: number;
    listed: number;
    pages: number;
    listProblem: string;
  };
  expect(s.losses.map((l: Loss) => [l.when, l.lost, l.checked, l.listed, l.pages, l.listProblem])).toEqual([
    ["after kill -9 and restart", 0, 60, 60, 9, ""],
    ["at the end (live)", 0, 60, 60, 9, ""],
  ]);
  const phases = Object.fromEntries(s.phases.map((p: { name: string }) => [p.name, p]));
  expect(phases["find only"].finds).toBeGreaterThan(0);
  expect(phases["report only"].reports).toBeGreaterThan(0);
  expect(phases.mixed.finds * phases.mixed.reports).toBeGreaterThan(0);
  expect(phases.rollouts.findErrors + phases.rollouts.reportErrors).toBe(0);
  expect(s.storm.reports).toBe(60);
  expect(s.reference.reports).toBeGreaterThan(0);
  expect(s.rss.hwm).toBeGreaterThan(0);
  expect(stdout).toContain("fleet: OK");
}, 60_000);
