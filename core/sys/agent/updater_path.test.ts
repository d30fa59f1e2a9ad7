/**
 * The whole update path driven through fake ports (as Teleport's updater tests drive theirs): a fake server
 * (find answers, reports received), a fake installer (a manifest, version folders written on install, the
 * `current` switch, failures on demand), a fake probe (smoke test, readiness) and a fake service (restarts,
 * PIDs, crashes). update.yaml, the links and the versions folder are real files in a temp folder. Each test
 * is one way a pass ends: install, switch, commit; unhealthy and rolled back; each failure class before
 * and after the switch; the server's answers that change nothing; the jitter; recovery.
 */
import { describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeMarker } from "../../../scripts/fake-release.ts";
import {
  type AgentState,
  type FindAnswer,
  type PassReport,
  parseFindAnswer,
  parseState,
} from "../../agent/mod.ts";
import { UpkeepError } from "../../errors.ts";
import { MARKER_FILE } from "../../install/layout.ts";
import { type InstallOptions, isCompleteVersionDir, switchSymlink } from "../install/mod.ts";
import { currentTarget, type Layout, layout } from "./layout.ts";
import { opPin, opRollback } from "./ops.ts";
import type { InstallerPort, ProbePort, ServerPort } from "./ports.ts";
import type { ProbeResult } from "./probe.ts";
import type { DaemonSample, ServiceBackend } from "./service.ts";
import { readState } from "./state_store.ts";
import { type PassOptions, Updater } from "./updater.ts";

const KEY = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

/** The server's find answer naming `version` (auto_update on unless said). */
function answer(version: string, o: { auto?: boolean; jitter?: number; artifact?: string } = {}): FindAnswer {
  const a = parseFindAnswer({
    server_version: version,
    auto_update: {
      agent_version: version,
      agent_auto_update: o.auto ?? true,
      agent_update_jitter_seconds: o.jitter ?? 0,
    },
    upkeep: { artifact: o.artifact ?? "" },
  });
  if (typeof a === "string") throw new Error(a);
  return a;
}

class FakeServer implements ServerPort {
  reports: PassReport[] = [];
  reportError: string | undefined;
  constructor(public next: FindAnswer | Error) {}
  async find(): Promise<FindAnswer> {
    if (this.next instanceof Error) throw this.next;
    return this.next;
  }
  async report(_spec: unknown, r: PassReport): Promise<string | undefined> {
    this.reports.push(r);
    return this.reportError;
  }
}

/** Installs write a complete version folder; errors by version, the manifest's and the next switches'. */
class FakeInstaller implements InstallerPort {
  calls: string[] = [];
  installs: InstallOptions[] = [];
  manifestError: Error | undefined;
  installErrors = new Map<string, Error>();
  switchErrors: Error[] = [];
  constructor(private readonly l: Layout) {}
  async fetchManifest() {
    this.calls.push("manifest");
    if (this.manifestError) throw this.manifestError;
    const manifest = {
      schema: 1 as const,
      product: "hello",
      serial: 7,
      issued: "2026-01-01T00:00:00Z",
      expires: "2027-01-01T00:00:00Z",
      floor: null,
      releases: [],
    };
    return { manifest, serial: 7, keyId: "k", trustedComment: "", path: "" };
  }
  async install(o: InstallOptions) {
    this.calls.push(`install ${o.version}`);
    this.installs.push(o);
    const e = this.installErrors.get(o.version);
    if (e) throw e;
    return { dir: putVersion(this.l, o.version), reused: false };
  }
  isInstalled(dir: string): boolean {
    return isCompleteVersionDir(dir);
  }
  async switchTo(link: string, target: string): Promise<void> {
    this.calls.push(`switch ${target}`);
    const e = this.switchErrors.shift();
    if (e) throw e;
    await switchSymlink(link, target);
  }
}

class FakeProbe implements ProbePort {
  smokeFails = new Set<string>();
  ready: ProbeResult | undefined;
  async smokeTest(_binary: string, version: string): Promise<void> {
    if (this.smokeFails.has(version))
      throw new UpkeepError("E_SMOKE", `smoke test: ${version} printed 9.9.9`);
  }
  async health(): Promise<ProbeResult | undefined> {
    return this.ready;
  }
}

/** Runs whatever `current` points at; versions in `crashing` restart, in `failing` do not start at all. */
class FakeService implements ServiceBackend {
  readonly kind = "systemd" as const;
  manages = true;
  restarted: string[] = [];
  crashing = new Set<string>();
  failing = new Set<string>();
  healthy: boolean | undefined = true;
  onSample: (() => void) | undefined;
  constructor(private readonly l: Layout) {}
  async restart(): Promise<void> {
    const v = currentTarget(this.l) ?? "";
    this.restarted.push(v);
    if (this.failing.has(v)) throw new UpkeepError("E_IO", `systemctl restart: ${v} failed to start`);
  }
  async sample(): Promise<DaemonSample> {
    this.onSample?.();
    return { pid: 4242, restarts: this.crashing.has(currentTarget(this.l) ?? "") ? 2 : 0 };
  }
  async healthyNow(): Promise<boolean | undefined> {
    return this.healthy;
  }
}

function putVersion(l: Layout, v: string): string {
  const dir = join(l.versionsDir, v);
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "hello"), "#!/bin/sh\n");
  writeFileSync(join(dir, MARKER_FILE), fakeMarker(v));
  return dir;
}

interface World {
  l: Layout;
  server: FakeServer;
  installer: FakeInstaller;
  probe: FakeProbe;
  service: FakeService;
  logs: string[];
  updater(o?: { signal?: AbortSignal; random?: () => number }): Updater;
  pass(o?: PassOptions): ReturnType<Updater["pass"]>;
  saved(): Promise<AgentState>;
}

/** A namespace running `active` (its folder installed, `current` on it), 1.0.0 by default. */
function world(o: { active?: string; installed?: string[]; yaml?: string } = {}): World {
  const l = layout(mkdtempSync(join(tmpdir(), "upkeep-path-")), "default");
  const active = o.active ?? "1.0.0";
  for (const v of o.installed ?? (active ? [active] : [])) putVersion(l, v);
  if (active) pointCurrent(l, active);
  const text = `version: 1\nkind: upkeep_agent\nspec:\n  server: https://s.example\n  product: hello\n  base_url: https://b.example\n  trust_keys: [${KEY}]\n  service: systemd\n  daemon: hello\n  bin_dir: ${join(l.installDir, "bin")}\n  updater_id: u-1\n  token: t\n  health_wait_ms: 0\n${o.yaml ?? ""}status:\n  active: "${active}"\n`;
  const state = parseState(text);
  const w: World = {
    l,
    server: new FakeServer(answer("1.1.0")),
    installer: new FakeInstaller(l),
    probe: new FakeProbe(),
    service: new FakeService(l),
    logs: [],
    updater: (u = {}) =>
      new Updater({
        layout: l,
        state,
        server: w.server,
        installer: w.installer,
        probe: w.probe,
        service: w.service,
        log: (m) => w.logs.push(m),
        now: () => new Date("2026-03-01T00:00:00Z"),
        ...u,
      }),
    pass: (p = {}) => w.updater().pass(p),
    saved: () => readState(l),
  };
  return w;
}

function pointCurrent(l: Layout, v: string): void {
  mkdirSync(l.root, { recursive: true });
  rmSync(l.current, { force: true });
  symlinkSync(join("versions", v), l.current);
}

const states = (w: World) => w.server.reports.map((r) => r.state);

describe("an update that works: install, switch, restart, healthy, commit", () => {
  test("the server's version is installed, switched to and committed; reported updating then ok", async () => {
    const w = world({ installed: ["1.0.0", "0.9.0"] });
    const r = await w.pass();
    expect(r).toMatchObject({ outcome: "updated", from: "1.0.0", to: "1.1.0" });
    expect(r.message).toBe("updated from 1.0.0 to 1.1.0 (pid 4242 up for 1 polls)");
    expect(r.code).toBeUndefined();
    expect(w.installer.calls).toEqual(["manifest", "install 1.1.0", "switch versions/1.1.0"]);
    // A re-published version is never installed over the folder the daemon runs from.
    expect(w.installer.installs[0]?.inUse).toEqual(["1.0.0", "1.0.0"]);
    expect(w.service.restarted).toEqual(["1.1.0"]);
    expect(readlinkSync(w.l.current)).toBe("versions/1.1.0");
    expect(readlinkSync(join(w.l.installDir, "bin", "hello"))).toBe(join(w.l.current, "bin", "hello"));
    const saved = await w.saved();
    expect(saved.status).toMatchObject({
      active: "1.1.0",
      backup: "1.0.0",
      manifestSerial: 7,
      lastError: "",
    });
    expect(saved.status.updating).toBeUndefined();
    expect(existsSync(join(w.l.versionsDir, "0.9.0"))).toBe(false); // neither active nor backup: cleaned
    expect(w.server.reports).toEqual([
      { state: "updating", version: "1.0.0" },
      { state: "ok", version: "1.1.0" },
    ]);
  });

  test("a first install with nothing running the daemon: committed without a health watch", async () => {
    const w = world({ active: "" });
    w.service.manages = false;
    const r = await w.pass({ force: "1.1.0", forceWhy: "first install of" });
    expect(r).toMatchObject({ outcome: "updated", message: "installed 1.1.0 (first install)" });
    expect(w.service.restarted).toEqual([]);
    expect(states(w)).toEqual(["updating", "ok"]);
  });

  test("an update with nothing running the daemon: switched, judged when the loop starts it", async () => {
    const w = world();
    w.service.manages = false;
    const r = await w.pass();
    expect(r).toMatchObject({ outcome: "switched", from: "1.0.0", to: "1.1.0" });
    const saved = await w.saved();
    expect(saved.status).toMatchObject({ active: "1.1.0", backup: "1.0.0" });
    expect(saved.status.updating).toMatchObject({ from: "1.0.0", to: "1.1.0" });
    expect(states(w)).toEqual(["updating"]);
  });

  test("forced to a version installed before (rollback, pin): no manifest, no download", async () => {
    const w = world({ installed: ["1.0.0", "0.9.0"] });
    const r = await w.pass({ force: "0.9.0", forceWhy: "rollback to the backup version" });
    expect(r).toMatchObject({ outcome: "updated", from: "1.0.0", to: "0.9.0" });
    expect(w.installer.calls).toEqual(["switch versions/0.9.0"]);
  });

  test("forced to the version already active: smoke-tested, nothing switched", async () => {
    const w = world();
    const r = await w.pass({ force: "1.0.0" });
    expect(r).toEqual({
      outcome: "unchanged",
      from: "1.0.0",
      to: "1.0.0",
      message: "1.0.0 is already active",
    });
    expect(w.installer.calls).toEqual([]);
    expect(w.server.reports).toEqual([]);
  });
});

describe("unhealthy after the switch: rolled back", () => {
  const rolledBack = async (w: World, detail: string) => {
    const r = await w.pass();
    expect(r).toMatchObject({ outcome: "rolledback", from: "1.0.0", to: "1.1.0", code: "E_UNHEALTHY" });
    expect(r.message).toContain(detail);
    expect(r.detect_ms).toBeGreaterThanOrEqual(0);
    expect(r.rollback_ms).toBeGreaterThanOrEqual(0);
    expect(readlinkSync(w.l.current)).toBe("versions/1.0.0");
    const saved = await w.saved();
    expect(saved.status).toMatchObject({ active: "1.0.0", skip: ["1.1.0"], skipByOperator: [] });
    expect(saved.status.updating).toBeUndefined();
    expect(existsSync(join(w.l.versionsDir, "1.1.0"))).toBe(false); // skipped: its folder goes
    expect(w.server.reports.at(-1)).toEqual({
      state: "rolledback",
      version: "1.0.0",
      failedVersion: "1.1.0",
      error: expect.stringContaining(detail),
    });
    return r;
  };

  test("the daemon keeps crashing on the new version", async () => {
    const w = world();
    w.service.crashing.add("1.1.0");
    await rolledBack(w, "restarted 2 times");
    expect(w.service.restarted).toEqual(["1.1.0", "1.0.0"]);
    expect(w.installer.calls.slice(-2)).toEqual(["switch versions/1.1.0", "switch versions/1.0.0"]);
  });

  test("the readiness probe fails", async () => {
    const w = world();
    w.probe.ready = { ok: false, detail: "http://127.0.0.1:9/health answered 503" };
    await rolledBack(w, "readiness probe failed: http://127.0.0.1:9/health answered 503");
  });

  test("the new version does not start (restart throws)", async () => {
    const w = world();
    w.service.failing.add("1.1.0");
    await rolledBack(w, "could not be restarted on 1.1.0");
  });

  test("the daemon's health cannot be read", async () => {
    const w = world();
    w.service.onSample = () => {
      throw new Error("no such unit");
    };
    await rolledBack(w, "the daemon's health could not be read: no such unit");
  });

  test("the old version does not restart either: the rollback is recorded, the failure said", async () => {
    const w = world();
    w.service.failing.add("1.1.0");
    w.service.failing.add("1.0.0");
    const r = await rolledBack(w, "could not be restarted");
    expect(r.message).toContain("restarting 1.0.0 failed");
  });

  test("nothing to go back to: the new version stays, reported failed (E_UNHEALTHY)", async () => {
    const w = world({ active: "" });
    w.service.crashing.add("1.1.0");
    const r = await w.pass({ force: "1.1.0" });
    expect(r).toMatchObject({ outcome: "failed", from: "", to: "1.1.0", code: "E_UNHEALTHY" });
    expect(r.message).toContain("no previous version to roll back to");
    expect((await w.saved()).status).toMatchObject({ active: "1.1.0", skip: [] });
    expect(w.server.reports.at(-1)).toMatchObject({
      state: "failed",
      version: "1.1.0",
      failedVersion: "1.1.0",
    });
  });

  test("the switch back fails: an error after the switch, the intent left for recovery to finish", async () => {
    const w = world();
    w.service.crashing.add("1.1.0");
    w.installer.switchErrors = [];
    const u = w.updater();
    const switchTo = w.installer.switchTo.bind(w.installer);
    w.installer.switchTo = async (link, target) => {
      if (target === "versions/1.0.0") throw new UpkeepError("E_IO", "cannot point current: EROFS");
      return switchTo(link, target);
    };
    const r = await u.pass();
    expect(r).toMatchObject({ outcome: "error", code: "E_IO", message: "cannot point current: EROFS" });
    const saved = await w.saved();
    expect(saved.status.updating?.rollingBack?.reason).toContain("1.1.0 was unhealthy");
    expect(saved.status.lastResult).toContain("failed after the switch");
    expect(states(w)).toEqual(["updating"]);
    // The next command's recovery finishes the rollback (and reports it).
    w.installer.switchTo = switchTo;
    const next = w.updater();
    next.state = saved;
    expect((await next.recover()).notes).toEqual(["finished the interrupted rollback from 1.1.0 to 1.0.0"]);
    expect(readlinkSync(w.l.current)).toBe("versions/1.0.0");
    expect(w.server.reports.at(-1)).toMatchObject({ state: "rolledback", failedVersion: "1.1.0" });
  });

  test("the links cannot be made: rolled back like an unhealthy verdict", async () => {
    const w = world();
    mkdirSync(w.l.installDir, { recursive: true });
    writeFileSync(join(w.l.installDir, "bin"), "a file, not a folder");
    await rolledBack(w, "the links to 1.1.0 could not be made");
  });
});

describe("each failure before the switch: recorded; reported and skipped only when the release is at fault", () => {
  // [what, set-up, outcome, code, reported as failed, skipped]
  const cases: [string, (w: World) => void, string, string | undefined, boolean, boolean][] = [
    ["the smoke test fails", (w) => w.probe.smokeFails.add("1.1.0"), "failed", "E_SMOKE", true, true],
    [
      "the installer refuses the verified archive",
      (w) => w.installer.installErrors.set("1.1.0", new UpkeepError("E_UNSAFE_ARCHIVE", "entry ../x")),
      "failed",
      "E_UNSAFE_ARCHIVE",
      true,
      true,
    ],
    [
      "the archive's bytes do not match the manifest (a mirror mid-sync)",
      (w) => w.installer.installErrors.set("1.1.0", new UpkeepError("E_CHECKSUM", "sha256 differs")),
      "failed",
      "E_CHECKSUM",
      true,
      false,
    ],
    [
      "the artifact is not on the mirror yet",
      (w) => w.installer.installErrors.set("1.1.0", new UpkeepError("E_NOT_FOUND", "404")),
      "error",
      "E_NOT_FOUND",
      false,
      false,
    ],
    [
      "no space left",
      (w) => w.installer.installErrors.set("1.1.0", new UpkeepError("E_NO_SPACE", "1 byte free")),
      "error",
      "E_NO_SPACE",
      false,
      false,
    ],
    [
      "an error nobody named",
      (w) => w.installer.installErrors.set("1.1.0", new Error("EBADF")),
      "error",
      undefined,
      false,
      false,
    ],
    [
      "the manifest's signature does not verify (uploaded before it)",
      (w) => {
        w.installer.manifestError = new UpkeepError("E_SIGNATURE", "bad signature");
      },
      "error",
      "E_MANIFEST",
      false,
      false,
    ],
    [
      "an older manifest (a rollback attack or a stale mirror)",
      (w) => {
        w.installer.manifestError = new UpkeepError("E_ROLLBACK", "serial 3 below 7");
      },
      "error",
      "E_ROLLBACK",
      false,
      false,
    ],
    [
      "the server names another artifact than this host's template makes",
      (w) => {
        w.server.next = answer("1.1.0", { artifact: "evil-{os}-{arch}.tar.gz" });
      },
      "error",
      "E_HOST_CONFIG",
      false,
      false,
    ],
    [
      "the `current` switch fails (the intent is written, nothing switched)",
      (w) => w.installer.switchErrors.push(new UpkeepError("E_IO", "EIO")),
      "error",
      "E_IO",
      false,
      false,
    ],
  ];
  for (const [what, setUp, outcome, code, reported, skipped] of cases)
    test(what, async () => {
      const w = world();
      setUp(w);
      const r = await w.pass();
      expect(r.outcome).toBe(outcome as never);
      expect(r.code).toBe(code as never);
      expect(r.message).not.toContain(`(${code})`); // the code is never part of the message
      expect(readlinkSync(w.l.current)).toBe("versions/1.0.0");
      expect(w.service.restarted).toEqual([]);
      const saved = await w.saved();
      expect(saved.status.active).toBe("1.0.0");
      expect(saved.status.lastError).toBe(code ? `${r.message} (${code})` : r.message);
      expect(saved.status.lastResult).toBe("update to 1.1.0 failed before the switch; still running 1.0.0");
      expect(saved.status.skip).toEqual(skipped ? ["1.1.0"] : []);
      const failed = w.server.reports.filter((x) => x.state === "failed");
      expect(failed).toEqual(
        reported
          ? [{ state: "failed", version: "1.0.0", failedVersion: "1.1.0", error: saved.status.lastError }]
          : [],
      );
      if (skipped) expect(existsSync(join(w.l.versionsDir, "1.1.0"))).toBe(false);
    });

  test("a damaged trusted key in update.yaml: this host's configuration (E_HOST_CONFIG), never the release", async () => {
    const w = world();
    const u = w.updater();
    u.state.spec.trustKeys = ["RWnot-a-key"];
    const r = await u.pass();
    expect(r).toMatchObject({ outcome: "error", code: "E_HOST_CONFIG" });
    expect(r.message).toContain("this host's configuration");
    expect(w.installer.calls).toEqual([]);
    expect(w.server.reports).toEqual([]);
  });
});

describe("the server's answer changes nothing", () => {
  test("the server cannot be reached: an error, the daemon untouched, nothing reported", async () => {
    const w = world();
    w.server.next = new UpkeepError("E_NETWORK", "cannot reach https://s.example: ECONNREFUSED");
    const r = await w.pass();
    expect(r).toEqual({
      outcome: "error",
      from: "1.0.0",
      to: "",
      message: "cannot reach https://s.example: ECONNREFUSED",
      code: "E_NETWORK",
    });
    const saved = await w.saved();
    expect(saved.status).toMatchObject({
      lastCheck: "2026-03-01T00:00:00.000Z",
      lastError: "cannot reach https://s.example: ECONNREFUSED (E_NETWORK)",
      lastResult: "could not ask the server; still running 1.0.0",
    });
    expect(w.server.reports).toEqual([]);
  });

  test("a find that throws something else: an error without a code", async () => {
    const w = world({ active: "" });
    w.server.next = new Error("bug");
    expect(await w.pass()).toMatchObject({ outcome: "error", message: "bug" });
    expect((await w.saved()).status.lastResult).toBe("could not ask the server; nothing installed");
  });

  // [what, active, skip, skip by operator, daemon healthy, the report]
  const cases: [string, string, string[], string[], boolean | undefined, PassReport][] = [
    ["up to date", "1.1.0", [], [], true, { state: "ok", version: "1.1.0" }],
    ["up to date, the daemon unhealthy", "1.1.0", [], [], false, { state: "failed", version: "1.1.0" }],
    [
      "the target failed here before",
      "1.0.0",
      ["1.1.0"],
      [],
      true,
      {
        state: "rolledback",
        version: "1.0.0",
        failedVersion: "1.1.0",
        error: "1.1.0 is skipped on this host",
      },
    ],
    [
      "the operator skipped the target",
      "1.0.0",
      ["1.1.0"],
      ["1.1.0"],
      undefined,
      {
        state: "ok",
        version: "1.0.0",
        error: "1.1.0 is skipped on this host by the operator (upkeep agent rollback)",
      },
    ],
  ];
  for (const [what, active, skip, skipByOperator, healthy, report] of cases)
    test(what, async () => {
      const w = world({ active });
      w.service.healthy = healthy;
      const u = w.updater();
      Object.assign(u.state.status, { skip, skipByOperator });
      const r = await u.pass();
      expect(r.outcome).toBe("unchanged");
      expect((await w.saved()).status.lastResult).toBe(r.message);
      expect(w.server.reports).toEqual([report]);
      expect(w.installer.calls).toEqual([]);
    });
});

describe("the jitter", () => {
  test("the loop's waiter takes the wait outside the pass: waiting, nothing done", async () => {
    const w = world();
    w.server.next = answer("1.1.0", { jitter: 600 });
    const waits: unknown[] = [];
    const r = await w.updater({ random: () => 0.5 }).pass({
      waitJitter: async (wait) => {
        waits.push(wait);
        return { go: false, why: "waiting 300s of jitter", waiting: true };
      },
    });
    expect(r).toEqual({ outcome: "waiting", from: "1.0.0", to: "1.1.0", message: "waiting 300s of jitter" });
    expect(waits).toEqual([
      { from: "1.0.0", to: "1.1.0", ms: 300_000, until: new Date("2026-03-01T00:05:00Z") },
    ]);
    expect((await w.saved()).status.lastResult).toBe("waiting 300s of jitter");
    expect(w.installer.calls).toEqual([]);
  });

  test("stopped during the one-shot's own wait: unchanged, still running the old version", async () => {
    const w = world();
    w.server.next = answer("1.1.0", { jitter: 600 });
    const ac = new AbortController();
    ac.abort();
    const r = await w.updater({ signal: ac.signal, random: () => 0.5 }).pass();
    expect(r).toMatchObject({ outcome: "unchanged", message: "stopped during the jitter" });
    expect((await w.saved()).status.lastResult).toBe("stopped during the jitter; still running 1.0.0");
  });

  test("a jitter drawn as 0 ms: the one-shot goes on with the update", async () => {
    const w = world();
    w.server.next = answer("1.1.0", { jitter: 600 });
    const r = await w.updater({ random: () => 0 }).pass();
    expect(r.outcome).toBe("updated");
    expect(w.logs).toContain("waiting 0s of jitter before downloading (--now skips it)");
  });

  test("--now skips it", async () => {
    const w = world();
    w.server.next = answer("1.1.0", { jitter: 600 });
    const r = await w.updater({ random: () => 0.5 }).pass({ now: true });
    expect(r.outcome).toBe("updated");
  });
});

describe("an update left unsettled (agent killed after the switch)", () => {
  const unsettled = () => {
    const w = world({ installed: ["1.0.0", "1.1.0"] });
    const u = w.updater();
    pointCurrent(w.l, "1.1.0");
    Object.assign(u.state.status, {
      active: "1.1.0",
      backup: "1.0.0",
      updating: { from: "1.0.0", to: "1.1.0", started: "2026-01-01T00:00:00Z" },
    });
    return { w, u };
  };

  test("the next pass settles it first: healthy, committed, that is the pass's answer", async () => {
    const { w, u } = unsettled();
    const r = await u.pass();
    expect(r).toMatchObject({ outcome: "updated", from: "1.0.0", to: "1.1.0" });
    expect(w.installer.calls).toEqual([]);
  });

  test("forced elsewhere, the pass goes on from where it settled", async () => {
    const { w, u } = unsettled();
    putVersion(w.l, "1.2.0");
    const r = await u.pass({ force: "1.2.0" });
    expect(r).toMatchObject({ outcome: "updated", from: "1.1.0", to: "1.2.0" });
    expect((await w.saved()).status).toMatchObject({ active: "1.2.0", backup: "1.1.0" });
  });

  test("the agent stops while watching its health: no verdict, the intent stays", async () => {
    const { w } = unsettled();
    const ac = new AbortController();
    w.service.onSample = () => ac.abort();
    const u = w.updater({ signal: ac.signal });
    Object.assign(u.state.status, {
      active: "1.1.0",
      backup: "1.0.0",
      updating: { from: "1.0.0", to: "1.1.0", started: "2026-01-01T00:00:00Z" },
    });
    u.state.spec.healthWaitMs = 60_000;
    const r = await u.pass();
    expect(r).toMatchObject({ outcome: "error", code: "E_CANCELLED" });
    expect((await w.saved()).status.updating).toMatchObject({ from: "1.0.0", to: "1.1.0" });
    expect(w.server.reports).toEqual([]);
  });

  test("settling throws (the switch back fails): an error after the switch", async () => {
    const { w, u } = unsettled();
    w.service.crashing.add("1.1.0");
    w.installer.switchErrors.push(new UpkeepError("E_IO", "EROFS"));
    const r = await u.pass();
    expect(r).toMatchObject({ outcome: "error", code: "E_IO" });
    expect((await w.saved()).status.lastResult).toContain("failed after the switch");
  });
});

describe("reports", () => {
  test("a report not sent never fails the update: logged, kept in update.yaml until one is sent", async () => {
    const w = world();
    w.server.reportError = "report refused: 401";
    expect((await w.pass()).outcome).toBe("updated");
    expect(w.logs).toContain("report not sent (the update is not affected): report refused: 401");
    expect((await w.saved()).status.lastReportError).toBe("report refused: 401");
    w.server.reportError = undefined;
    w.server.next = answer("1.1.0");
    const u = w.updater();
    u.state = await w.saved();
    await u.pass();
    expect((await w.saved()).status.lastReportError).toBe("");
  });

  test("no agent token: nothing sent, said in update.yaml", async () => {
    const w = world();
    const u = w.updater();
    u.state.spec.token = "";
    await u.pass();
    expect(w.server.reports).toEqual([]);
    expect((await w.saved()).status.lastReportError).toContain("no agent token");
  });

  test("nothing is reported before update.yaml exists (enable's first install)", async () => {
    const w = world({ active: "" });
    const u = w.updater();
    u.persist = false;
    await u.pass({ force: "1.1.0" });
    expect(w.server.reports).toEqual([]);
    expect(existsSync(w.l.stateFile)).toBe(false);
  });

  test("reportActive: the active version as ok", async () => {
    const w = world();
    await w.updater().reportActive();
    expect(w.server.reports).toEqual([{ state: "ok", version: "1.0.0" }]);
  });
});

describe("recovery through the ports", () => {
  test("current missing: pointed at the active version by the installer's switch, the daemon restarted", async () => {
    const w = world();
    rmSync(w.l.current);
    const u = w.updater();
    const r = await u.recover();
    expect(r).toEqual({ notes: ["current was missing: pointed it at 1.0.0"], restart: true });
    expect(w.installer.calls).toEqual(["switch versions/1.0.0"]);
    await u.restartIfManaged();
    expect(w.service.restarted).toEqual(["1.0.0"]);
  });

  test("a skipped version's folder is swept once nothing runs from it", async () => {
    const w = world({ installed: ["1.0.0", "1.1.0"] });
    const u = w.updater();
    u.state.status.skip = ["1.1.0"];
    u.sweepSkipped();
    expect(existsSync(join(w.l.versionsDir, "1.1.0"))).toBe(false);
    expect(w.logs).toContain("removed the skipped version 1.1.0");
  });
});

describe("pin and rollback through the ports", () => {
  test("a rollback whose backup fails its smoke test: refused with that code, said once", async () => {
    const w = world({ installed: ["1.0.0", "0.9.0"] });
    const u = w.updater();
    u.state.status.backup = "0.9.0";
    w.probe.smokeFails.add("0.9.0");
    const go = opRollback(u);
    // It was always E_UNHEALTHY, with the real code inside the message.
    await expect(go).rejects.toMatchObject({
      code: "E_SMOKE",
      message: "rollback to 0.9.0 failed: smoke test: 0.9.0 printed 9.9.9",
    });
    expect(readlinkSync(w.l.current)).toBe("versions/1.0.0");
  });

  test("a rollback: back on the backup, the version left skipped by the operator", async () => {
    const w = world({ installed: ["1.0.0", "0.9.0"] });
    const u = w.updater();
    u.state.status.backup = "0.9.0";
    const r = await opRollback(u);
    expect(r).toMatchObject({ outcome: "updated", from: "1.0.0", to: "0.9.0" });
    expect(u.state.status).toMatchObject({ active: "0.9.0", skip: ["1.0.0"], skipByOperator: ["1.0.0"] });
  });

  test("pin of a version that cannot be installed: the install's code, the message without it", async () => {
    const w = world();
    w.installer.installErrors.set("1.2.0", new UpkeepError("E_NOT_IN_MANIFEST", "1.2.0 is not released"));
    await expect(opPin(w.updater(), "1.2.0")).rejects.toMatchObject({
      code: "E_NOT_IN_MANIFEST",
      message: "cannot pin 1.2.0: 1.2.0 is not released",
    });
  });
});
