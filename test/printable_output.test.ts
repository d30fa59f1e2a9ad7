/**
 * Issue 10 item 6: text from a version server (a find `reason`, an agent's report) is printed with control
 * characters escaped: no terminal escape reaches a terminal, and no forged line appears in a log or a view.
 * A mirror in front of a real serve answers `/v1/webapi/find` (and ping) with a hostile reason; everything
 * else goes through to the real server.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  AGENT_TOKEN,
  agent,
  enabledHost,
  type Host,
  type Mirror,
  publish,
  setTarget,
  startLoop,
  startMirror,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

const FORGED = "2026-01-01T00:00:00.000Z upkeep agent: pass: updated: forged";
const EVIL = `evil\n${FORGED}\r\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202eeviL`;

/** No raw control character but newlines, and no line that starts with the forged text. */
function expectClean(text: string): void {
  expect(text).not.toContain("\x1b");
  expect(text).not.toContain("\x07");
  expect(text).not.toContain("\r");
  expect(text).not.toContain("\x9b");
  expect(text).not.toContain("\u202e");
  for (const line of text.split("\n")) expect(line.startsWith(FORGED)).toBe(false);
}

let w: World;
let h: Host;
let mirror: Mirror;

useWorld("printable", async (world) => {
  w = world;
  await publish(w, ["11.0.0"]);
  await setTarget(w, "11.0.0");
  h = await enabledHost(w, "a");
  // An upkeep server whose version is not set names nothing and says why: here, hostile text.
  mirror = startMirror(w, {
    before: (path) =>
      path.endsWith("/webapi/find") || path.endsWith("/webapi/ping")
        ? Response.json({
            server_version: "",
            auto_update: {
              agent_version: "",
              agent_auto_update: false,
              tools_version: "",
              tools_auto_update: false,
            },
            upkeep: { reason: EVIL },
          })
        : undefined,
  });
  // The host now asks the mirror.
  const doc = parseYaml(readFileSync(h.stateFile, "utf8"));
  doc.spec.server = mirror.url;
  writeFileSync(h.stateFile, stringifyYaml(doc), { mode: 0o600 });
});

describe("server text is printed with control characters escaped", () => {
  test("agent update and agent status", async () => {
    const u = await agent(h, ["update", "--now"]);
    expect(`${u.stdout}${u.stderr}`).toContain("evil\\n2026-01-01");
    expectClean(u.stdout);
    expectClean(u.stderr);
    const s = await agent(h, ["status"]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain("\\x1b]0;pwned\\x07");
    expectClean(s.stdout);
  });

  test("the agent loop's log: one line per entry", async () => {
    const loop = await startLoop(h);
    try {
      await waitFor("the pass in the log", () => loop.log().includes("evil"), 20_000);
    } finally {
      await loop.stop();
    }
    const log = loop.log();
    expect(log).toContain("evil\\n2026-01-01");
    expectClean(log);
  });

  test("tools login and tools update", async () => {
    const home = mkdtempSync(join(tmpdir(), "upkeep-printable-tools-"));
    const env = { HOME: home, UPKEEP_TOOLS_DIR: join(home, "tools"), UPKEEP_SERVER: "", UPKEEP_TOKEN: "" };
    const server = mirror.url;
    const login = await upkeep(
      ["tools", "login", "--server", server, "--product", "hello", "--trust-key", w.pub],
      {
        env,
      },
    );
    expect(login.stderr).toContain("evil\\n2026-01-01");
    expectClean(login.stdout);
    expectClean(login.stderr);
    const up = await upkeep(["tools", "update"], { env });
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain("evil\\n2026-01-01");
    expectClean(up.stdout);
    expectClean(up.stderr);
    const run = await upkeep(["tools", "exec", "hello", "version"], { env });
    expectClean(run.stderr);
  });

  test("admin get agents: what agents sent stays in its cell", async () => {
    const res = await fetch(`${w.url}/v1/agents/report`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        updater_id: "11111111-2222-4333-8444-555555555555",
        hostname: `evil\x1b[31mhost\n${FORGED}`,
        version: "11.0.0",
        state: "ok",
        error: `x\r${EVIL}`,
      }),
    });
    expect(res.status).toBeLessThan(300);
    const r = await upkeep(["admin", "get", "agents"], { env: w.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("evil\\x1b[31mhost");
    expectClean(r.stdout);
  });
});
