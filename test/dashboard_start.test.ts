/**
 * `npm start` (scripts/start.sh) prints the dashboard's URL (issue 14), and that URL, with the admin token
 * start.sh keeps in DATA/admin-token, opens the dashboard.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../scripts/bench/_util.ts";
import { ROOT } from "./cli.ts";

let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    process.kill(proc.pid, "SIGTERM");
    await proc.exited;
  }
});

test("npm start prints the dashboard URL; it opens with the admin token start.sh keeps", async () => {
  const dir = mkdtempSync(join(tmpdir(), "upkeep-dash-start-"));
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("UPKEEP_")) env[k] = v;
  proc = Bun.spawn(["sh", "scripts/start.sh"], {
    cwd: ROOT,
    env: { ...env, UPKEEP_LISTEN: `127.0.0.1:${port}`, UPKEEP_DATA_DIR: join(dir, "data") },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const dec = new TextDecoder();
  const read = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += dec.decode(chunk, { stream: true });
  };
  void read(proc.stdout);
  void read(proc.stderr);
  // It builds first: generous.
  const deadline = Date.now() + 180_000;
  while (!/upkeep serve listening/.test(out) && proc.exitCode === null && Date.now() < deadline)
    await Bun.sleep(100);
  expect(out).toContain("upkeep serve listening");

  const m = /^Dashboard: (http\S+) \(log in with the admin token in (\S+)\)$/m.exec(out);
  expect(m?.[1]).toBe(`http://127.0.0.1:${port}/dashboard`);
  const url = m?.[1] as string;
  const token = readFileSync(m?.[2] as string, "utf8").trim();

  const first = await fetch(url, { redirect: "manual" });
  expect([first.status, first.headers.get("location")]).toEqual([303, "/dashboard/login"]);
  const login = await fetch(`${url}/login`, {
    method: "POST",
    body: new URLSearchParams({ token }),
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const page = await fetch(url, { headers: { cookie } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<h2 id="h-rollout">Rollout</h2>');
}, 240_000);
