/**
 * `admin apply` against a real server with a real signed release manifest (issue 11, traps 2 and 5): a
 * version that is not published (named, or reached by a server_version cap or raise) is refused with the
 * published list unless --force; `--dry-run` prints what each group would be told and changes nothing; a
 * new target outside the window says when each group starts and how to start one now.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { publish, STACK, useWorld, type World } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

let w: World;

/** An hour whose window is far from now: no group starts on its own while the test runs. */
const farHour = (new Date().getUTCHours() + 12) % 24;

const CONFIG = `kind: autoupdate_config
spec:
  tools: { mode: enabled }
  agents:
    strategy: halt-on-error
    schedules:
      regular:
        - { name: canary, days: ["*"], start_hour: ${farHour} }
        - { name: prod, days: ["*"], start_hour: ${farHour} }
`;
const versionDoc = (start: string, target: string) =>
  `kind: autoupdate_version\nspec:\n  tools: { target_version: ${target} }\n  agents: { start_version: ${start}, target_version: ${target}, schedule: regular }\n`;

const admin = (args: string[], stdin?: string) =>
  upkeep(["admin", ...args], { env: { ...w.env, COLUMNS: "100" }, ...(stdin ? { stdin } : {}) });

async function stored(): Promise<{ target?: string; server: unknown; groups: number }> {
  const auth = { headers: { authorization: `Bearer ${w.env.UPKEEP_TOKEN}` } };
  const v = (await (await fetch(`${w.url}/v1/resources/autoupdate_version`, auth)).json()) as {
    spec: { agents?: { target_version: string } };
  };
  const s = (await (await fetch(`${w.url}/v1/server`, auth)).json()) as { server_version: unknown };
  const r = (await (await fetch(`${w.url}/v1/rollout`, auth)).json()) as { groups: unknown[] };
  return {
    ...(v.spec.agents ? { target: v.spec.agents.target_version } : {}),
    server: s.server_version,
    groups: r.groups.length,
  };
}

useWorld("adminapply", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  const r = await admin(["apply", "-f", "-"], `${CONFIG}---\nkind: server\nserver_version: 11.9.0\n`);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
});

describe("admin apply: only published versions (trap 2)", () => {
  test("a target not in the published manifest: refused with the published versions, nothing applied", async () => {
    const r = await admin(["apply", "-f", "-"], versionDoc("11.0.0", "11.2.0"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "not in the release manifest published on this server: 11.2.0 (spec.agents.target_version; spec.tools.target_version); published: 11.0.0, 11.1.0; nothing was applied (E_NOT_IN_MANIFEST)",
    );
    expect(r.stderr).toContain("--force");
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).toBe("");
    expect(await stored()).toEqual({ server: "11.9.0", groups: 0 });
  });

  test("--dry-run: what each group and tools would be told, and why; nothing changes", async () => {
    const r = await admin(["apply", "--dry-run", "-f", "-"], versionDoc("11.0.0", "11.1.0"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toStartWith("dry run: nothing was changed; with these resources applied now:\n");
    expect(out).toContain("group canary (unstarted): agents told 11.0.0, no update now\n");
    expect(out).toContain("  why: group canary is unstarted: stay on the start version, no update\n");
    expect(out).toContain("  to start it now: upkeep admin rollout start canary\n");
    expect(out).toContain("group prod (unstarted): agents told 11.0.0, no update now\n");
    expect(out).toContain("  waiting for earlier group canary (unstarted)\n");
    expect(out).toContain("client tools: told 11.1.0, update now\n");
    expect(await stored()).toEqual({ server: "11.9.0", groups: 0 });
    // --json: the plan as the server answers it.
    const j = await admin(["apply", "--dry-run", "--json", "-f", "-"], versionDoc("11.0.0", "11.1.0"));
    const plan = JSON.parse(j.stdout) as {
      dry_run: boolean;
      applied: unknown[];
      plan: { groups: { group: string; version: string; update: boolean; why: string }[] };
    };
    expect(plan).toMatchObject({ dry_run: true, applied: [] });
    expect(plan.plan.groups.map((g) => [g.group, g.version, g.update])).toEqual([
      ["canary", "11.0.0", false],
      ["prod", "11.0.0", false],
    ]);
    // A dry run of an unpublished version is refused like the apply; with --force it shows the plan.
    const bad = await admin(["apply", "--dry-run", "-f", "-"], versionDoc("11.0.0", "11.2.0"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("11.2.0 (spec.agents.target_version");
    const forced = await admin(["apply", "--dry-run", "--force", "-f", "-"], versionDoc("11.0.0", "11.2.0"));
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("client tools: told 11.2.0, update now");
    expect(forced.stderr).toContain(
      "with --force: 11.2.0 is not in the release manifest published on this server; hosts must get it from elsewhere",
    );
    expect(await stored()).toEqual({ server: "11.9.0", groups: 0 });
  });

  test("a new target outside the window: when each group starts, and how to start one now (trap 5)", async () => {
    const r = await admin(["apply", "-f", "-"], versionDoc("11.0.0", "11.1.0"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("autoupdate_version applied (<stdin> document 1)");
    expect(lines[1]).toBe("group canary (unstarted): agents told 11.0.0, no update now");
    const m = /^ {2}starts when its window opens: (\d{4}-\d\d-\d\dT(\d\d):00:00Z) \(in (\d+)h (\d+)m\)$/.exec(
      lines[2] ?? "",
    );
    const [, iso, hour, h, min] = m as unknown as string[];
    expect(Number(hour)).toBe(farHour);
    // The relative time agrees with the instant (to the minute the command took).
    const left = (Date.parse(iso as string) - Date.now()) / 60_000;
    expect(Math.abs(Number(h) * 60 + Number(min) - left)).toBeLessThan(3);
    expect(lines[3]).toBe("  to start it now: upkeep admin rollout start canary");
    expect(lines.slice(4)).toEqual([
      "group prod (unstarted): agents told 11.0.0, no update now",
      "  waiting for earlier group canary (unstarted)",
      "client tools: told 11.1.0, update now",
    ]);
    expect(await stored()).toEqual({ target: "11.1.0", server: "11.9.0", groups: 2 });
    // What it says works: start canary now.
    const start = await admin(["rollout", "start", "canary"]);
    expect(start.code).toBe(0);
    // No agents at its start: active for an hour, then done (Teleport's isDoneHaltOnError).
    expect(start.stdout).toStartWith("group canary: active (no agent reported when it started");
  });

  test("a server_version that raises agents to an unpublished version is refused (the effective version)", async () => {
    const r = await admin(["apply", "-f", "-"], "kind: server\nserver_version: 13.0.0\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "13.0.0 (spec.agents.start_version 11.0.0 raised to 13.0.0 (server_version); spec.agents.target_version 11.1.0 raised to 13.0.0 (server_version)",
    );
    expect(r.stderr).toContain("published: 11.0.0, 11.1.0");
    expect((await stored()).server).toBe("11.9.0");
  });

  test("a cap to a published version is applied, and get rollout shows it in text (and JSON)", async () => {
    const r = await admin(["apply", "-f", "-"], "kind: server\nserver_version: 11.0.0\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("group prod (unstarted): agents told 11.0.0");
    const json = JSON.parse((await admin(["get", "rollout", "--json"])).stdout) as { adjusted: unknown[] };
    expect(json.adjusted).toContainEqual(
      expect.objectContaining({
        field: "spec.agents.target_version",
        kind: "capped",
        from: "11.1.0",
        to: "11.0.0",
      }),
    );
    const text = (await admin(["get", "rollout"])).stdout;
    // The head wraps at 100 columns: the server version on its second line.
    expect(text.split("\n").slice(0, 2)).toEqual([
      "rollout 11.0.0 -> 11.1.0  strategy halt-on-error  schedule regular  mode enabled",
      "  server_version 11.0.0",
    ]);
    expect(text.replace(/\n {4}/g, " ")).toContain(
      "capped: spec.agents.target_version 11.1.0 -> 11.0.0: target 11.1.0 is newer than the server 11.0.0: capped at the server version",
    );
    for (const l of text.split("\n").slice(0, 4)) expect(l.length).toBeLessThanOrEqual(100);
    expect((await admin(["apply", "-f", "-"], "kind: server\nserver_version: 11.9.0\n")).code).toBe(0);
    expect((await admin(["get", "rollout"])).stdout).not.toContain("capped:");
  });
});
