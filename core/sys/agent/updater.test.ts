/**
 * The updater's pass against a fake service backend and a local report server: what happens when something
 * fails after the switch (restart, links), when the agent stops during the health watch, and which
 * failures are reported to the server as a failed release.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { fakeMarker } from "../../../scripts/fake-release.ts";
import { type AgentState, emptyStatus } from "../../agent/mod.ts";
import { UpkeepError } from "../../errors.ts";
import { MARKER_FILE } from "../../install/layout.ts";
import { type Layout, layout } from "./layout.ts";
import { realPorts } from "./ports.ts";
import type { DaemonSample, ServiceBackend } from "./service.ts";
import { readState, writeState } from "./state_store.ts";
import { Updater } from "./updater.ts";

interface Report {
  state: string;
  version: string;
  failed_version?: string;
}

let server: Server<undefined>;
let reports: Report[] = [];
/** Served as the release manifest and its signature when set (else 404, like everything else). */
let manifestFiles: { json: string; sig: string } | undefined;
let base = "";
const dirs: string[] = [];

beforeAll(() => {
  // The version server (reports) and the artifact host (everything else is 404: a mirror not synced yet).
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/v1/agents/report") {
        reports.push((await req.json()) as Report);
        return Response.json({ ok: true });
      }
      if (manifestFiles && path.endsWith("/hello-releases.json")) return new Response(manifestFiles.json);
      if (manifestFiles && path.endsWith("/hello-releases.json.minisig"))
        return new Response(manifestFiles.sig);
      return new Response("not here", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A namespace with complete versions whose `hello version` prints `printed` (default: the version). */
function namespace(versions: Record<string, string> = { "1.0.0": "1.0.0", "1.1.0": "1.1.0" }): Layout {
  const dir = mkdtempSync(join(tmpdir(), "upkeep-updater-"));
  dirs.push(dir);
  const l = layout(dir, "default");
  for (const [v, printed] of Object.entries(versions)) {
    const bin = join(l.versionsDir, v, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "hello"), `#!/bin/sh\necho "hello ${printed}"\n`);
    chmodSync(join(bin, "hello"), 0o755);
    writeFileSync(join(l.versionsDir, v, MARKER_FILE), fakeMarker(v));
  }
  symlinkSync("versions/1.0.0", l.current);
  return l;
}

function state(l: Layout): AgentState {
  return {
    spec: {
      server: base,
      product: "hello",
      group: "",
      baseUrl: `${base}/artifacts`,
      trustKeys: ["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"],
      token: "t",
      insecure: false,
      edition: "oss",
      fips: false,
      service: "systemd",
      daemon: "hello",
      daemonArgs: [],
      healthUrl: "",
      healthCmd: "",
      healthWaitMs: 600,
      healthTimeoutMs: 2000,
      binDir: join(l.installDir, "bin"),
      systemdDir: "",
      interval: "5m",
      enabled: true,
      pinned: false,
      updaterId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    },
    status: { ...emptyStatus(), active: "1.0.0" },
  };
}

/** A backend whose restart() fails while `current` points at one of `failOn` (like systemctl exiting 1). */
class FakeBackend implements ServiceBackend {
  readonly kind = "systemd" as const;
  readonly manages = true;
  restarts: string[] = [];
  constructor(
    private readonly l: Layout,
    private readonly failOn: string[] = [],
  ) {}
  async restart(): Promise<void> {
    const cur = readlinkSync(this.l.current);
    this.restarts.push(cur);
    if (this.failOn.some((v) => cur.endsWith(`/${v}`)))
      throw new UpkeepError("E_IO", "systemctl try-restart hello.service failed (exit 1): Job failed");
  }
  async sample(): Promise<DaemonSample> {
    return { pid: 4242, restarts: 0 };
  }
  async healthyNow(): Promise<boolean | undefined> {
    return true;
  }
}

async function updater(l: Layout, backend: ServiceBackend, signal?: AbortSignal): Promise<Updater> {
  const st = state(l);
  await writeState(l, st);
  return new Updater({
    layout: l,
    state: st,
    ...realPorts,
    service: backend,
    log: () => {},
    ...(signal ? { signal } : {}),
  });
}

describe("a failure after the switch rolls back", () => {
  test("restart() of the new version throws: back to the old one, skipped, reported rolledback", async () => {
    reports = [];
    const l = namespace();
    const backend = new FakeBackend(l, ["1.1.0"]);
    const u = await updater(l, backend);
    const r = await u.pass({ force: "1.1.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "rolledback", from: "1.0.0", to: "1.1.0", code: "E_UNHEALTHY" });
    expect(r.message).toContain("could not be restarted on 1.1.0");
    expect(r.message).not.toContain("before the switch");
    expect(readlinkSync(l.current)).toBe("versions/1.0.0");
    expect(backend.restarts).toEqual(["versions/1.1.0", "versions/1.0.0"]);
    const saved = await readState(l);
    expect(saved.status).toMatchObject({ active: "1.0.0", skip: ["1.1.0"] });
    expect(saved.status.updating).toBeUndefined();
    expect(reports.map((x) => x.state)).toEqual(["updating", "rolledback"]);
    expect(reports[1]).toMatchObject({ version: "1.0.0", failed_version: "1.1.0" });
    // The next pass is not stuck: no intent left, nothing thrown.
    const again = new Updater({ layout: l, state: saved, ...realPorts, service: backend, log: () => {} });
    expect((await again.recover()).notes).toEqual([]);
  });

  test("restart() fails for both versions: the rollback is still recorded, the failure said", async () => {
    const l = namespace();
    const u = await updater(l, new FakeBackend(l, ["1.0.0", "1.1.0"]));
    const r = await u.pass({ force: "1.1.0", forceWhy: "test" });
    expect(r.outcome).toBe("rolledback");
    expect(r.message).toContain("restarting 1.0.0 failed");
    expect(readlinkSync(l.current)).toBe("versions/1.0.0");
    expect((await readState(l)).status.updating).toBeUndefined();
  });

  test("the links cannot be made after the switch: rolled back, not 'failed before the switch'", async () => {
    const l = namespace();
    const u = await updater(l, new FakeBackend(l));
    // bin-dir is a file: ensureLinks throws after `current` moved to 1.1.0.
    mkdirSync(l.installDir, { recursive: true });
    writeFileSync(u.state.spec.binDir, "not a folder");
    const r = await u.pass({ force: "1.1.0", forceWhy: "test" });
    expect(r.outcome).toBe("rolledback");
    expect(r.message).toContain("links");
    expect(readlinkSync(l.current)).toBe("versions/1.0.0");
    expect((await readState(l)).status).toMatchObject({ active: "1.0.0", skip: ["1.1.0"] });
  });

  test("an unsettled update (agent killed after the switch) whose restart throws: rolled back, no throw", async () => {
    const l = namespace();
    const backend = new FakeBackend(l, ["1.1.0"]);
    const st = state(l);
    rmSync(l.current);
    symlinkSync("versions/1.1.0", l.current);
    st.status = {
      ...st.status,
      active: "1.1.0",
      backup: "1.0.0",
      updating: { from: "1.0.0", to: "1.1.0", started: "2026-01-01T00:00:00Z" },
    };
    await writeState(l, st);
    const u = new Updater({ layout: l, state: st, ...realPorts, service: backend, log: () => {} });
    const r = await u.pass({});
    expect(r.outcome).toBe("rolledback");
    expect(readlinkSync(l.current)).toBe("versions/1.0.0");
    expect((await readState(l)).status).toMatchObject({ active: "1.0.0", skip: ["1.1.0"] });
  });
});

describe("the agent stopping during the health watch", () => {
  test("no verdict: the intent stays, nothing skipped or reported rolled back; recovery settles it", async () => {
    reports = [];
    const l = namespace();
    const backend = new FakeBackend(l);
    const ac = new AbortController();
    const u = await updater(l, backend, ac.signal);
    u.state.spec.healthWaitMs = 5000;
    setTimeout(() => ac.abort(), 300);
    const r = await u.pass({ force: "1.1.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "error", code: "E_CANCELLED", from: "1.0.0", to: "1.1.0" });
    expect(readlinkSync(l.current)).toBe("versions/1.1.0");
    const saved = await readState(l);
    expect(saved.status.skip).toEqual([]);
    expect(saved.status.updating).toMatchObject({ from: "1.0.0", to: "1.1.0" });
    expect(saved.status.updating?.rollingBack).toBeUndefined();
    expect(reports.map((x) => x.state)).toEqual(["updating"]);
    // The next start: recovery keeps the intent, the next pass checks health and commits.
    const next = new Updater({ layout: l, state: saved, ...realPorts, service: backend, log: () => {} });
    const rec = await next.recover();
    expect(rec.restart).toBe(true);
    expect(next.state.status.active).toBe("1.1.0");
    next.state.spec.healthWaitMs = 300;
    const settled = await next.pass({ force: "1.1.0" });
    expect(settled).toMatchObject({ outcome: "updated", from: "1.0.0", to: "1.1.0" });
    expect((await readState(l)).status).toMatchObject({ active: "1.1.0", backup: "1.0.0", skip: [] });
  });
});

describe("what is reported as a failed release", () => {
  test("a mirror that has not synced (E_NOT_FOUND): no report, no skip, tried again", async () => {
    reports = [];
    const l = namespace();
    const u = await updater(l, new FakeBackend(l));
    const r = await u.pass({ force: "1.2.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "error", code: "E_NOT_FOUND" });
    expect(reports).toEqual([]);
    expect((await readState(l)).status.skip).toEqual([]);
  });

  test("a manifest that does not match its signature (uploaded before it): no report, no skip", async () => {
    reports = [];
    manifestFiles = {
      json: '{"schema":1,"product":"hello","serial":2,"releases":[]}',
      sig: "untrusted comment: signature\nRUQf6LRCGA9i5wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\ntrusted comment: timestamp:1\tfile:hello-releases.json\thashed\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
    };
    try {
      const l = namespace();
      const u = await updater(l, new FakeBackend(l));
      const r = await u.pass({ force: "1.2.0", forceWhy: "test" });
      expect(r).toMatchObject({ outcome: "error", code: "E_MANIFEST" });
      expect(r.message).toContain("release manifest");
      expect(reports).toEqual([]);
      expect((await readState(l)).status.skip).toEqual([]);
    } finally {
      manifestFiles = undefined;
    }
  });

  test("a damaged trusted key in update.yaml is this host's problem: E_HOST_CONFIG, no report", async () => {
    reports = [];
    const l = namespace();
    const st = state(l);
    st.spec.trustKeys = ["not-a-minisign-key"];
    await writeState(l, st);
    const u = new Updater({ layout: l, state: st, ...realPorts, service: new FakeBackend(l), log: () => {} });
    const r = await u.pass({ force: "1.2.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "error", code: "E_HOST_CONFIG" });
    expect(r.message).toContain("this host's configuration");
    expect(reports).toEqual([]);
  });

  test("a smoke test failure is: reported failed with failed_version, skipped", async () => {
    reports = [];
    const l = namespace({ "1.0.0": "1.0.0", "1.2.0": "9.9.9" });
    const u = await updater(l, new FakeBackend(l));
    const r = await u.pass({ force: "1.2.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "failed", code: "E_SMOKE" });
    expect(reports).toEqual([expect.objectContaining({ state: "failed", failed_version: "1.2.0" })]);
    expect((await readState(l)).status.skip).toEqual(["1.2.0"]);
  });
});

describe("the smoke test", () => {
  test("a binary printing 11.2.0 is no proof of 1.2.0: refused before the switch", async () => {
    const l = namespace({ "1.0.0": "1.0.0", "1.2.0": "v11.2.0" });
    const u = await updater(l, new FakeBackend(l));
    const r = await u.pass({ force: "1.2.0", forceWhy: "test" });
    expect(r).toMatchObject({ outcome: "failed", code: "E_SMOKE" });
    expect(readlinkSync(l.current)).toBe("versions/1.0.0");
  });
});
