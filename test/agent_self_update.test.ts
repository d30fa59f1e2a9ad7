/**
 * The updater updates itself (issue 16), end to end with two builds of upkeep stamped 11.50.0 and 11.51.0
 * (scripts/build.ts --version, trusting a test key for upkeep's own releases), signed with that key
 * (upkeep-releases.json + .minisig), hosted beside the product's artifacts by a mirror of serve that names
 * `upkeep.updater_version` in its find answers. Each host runs the old build from its bin dir
 * (`<bin>/upkeep`, as install.sh leaves it) under supervise:
 * - it updates itself in place: same PID, the daemon's PID the same and still its child, `current` and the
 *   bin link on the new build, state.json committed after the new one's first pass;
 * - a new updater that exits at start is rolled back at the next start and skipped;
 * - a tampered or unsigned updater is refused; --no-self-update keeps the old one.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSelfRelease } from "../core/sys/self/self_release.ts";
import {
  adminOk,
  agent,
  alive,
  daemonPid,
  enableArgs,
  type Host,
  host,
  hostOnBuild,
  type Loop,
  readStateFile,
  runExe,
  type SelfMirror,
  stampedBuilds,
  startLoop,
  startSelfMirror,
  useWorld,
  type World,
  waitFor,
} from "./agent_helpers.ts";
import { collect, ROOT } from "./cli.ts";

/** Compares with test/golden/agent/NAME (written when missing or with UPDATE_GOLDEN=1). */
function golden(name: string, actual: string): void {
  const path = join(ROOT, "test", "golden", "agent", name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

setDefaultTimeout(120_000);

const OLD = "11.50.0";
const NEW = "11.51.0";

let w: World;
let mirror: SelfMirror;
let builds: string;
let releases: string;

useWorld("agent-self", async (world) => {
  w = world;
  ({ builds, releases, mirror } = await stampedBuilds(w, OLD, NEW));
});

/** A host whose upkeep is the old build at `<bin>/upkeep`, enabled with it against the mirror. */
async function oldHost(name: string, extra: string[] = []): Promise<Host & { exe: string }> {
  return oldHostOn(name, mirror.url, extra);
}

/** The same against `server` (the mirror, or serve itself). */
function oldHostOn(name: string, server: string, extra: string[] = []): Promise<Host & { exe: string }> {
  return hostOnBuild(w, name, join(builds, OLD, "upkeep"), server, extra);
}

const selfState = (h: Host) =>
  JSON.parse(
    existsSync(join(h.installDir, "updater", "state.json"))
      ? readFileSync(join(h.installDir, "updater", "state.json"), "utf8")
      : "{}",
  ) as {
    active: string;
    backup: string;
    skip: string[];
    updating?: unknown;
    failed?: { version: string; reason: string };
    last_error: string;
  };
const exeOf = (pid: number) => readlinkSync(`/proc/${pid}/exe`);
const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};
const versionVia = async (exe: string) => (await runExe(exe, ["--version"])).stdout.trim();

/** What the server knows of a host's updater (`admin get agents --json`). */
async function reported(h: Host): Promise<{ updater_version?: string; updater_failed_version?: string }> {
  const id = readStateFile(h).spec.updater_id;
  const r = await adminOk(w, ["get", "agents", "--json"]);
  const { agents } = JSON.parse(r.stdout) as {
    agents: { updater_id: string; updater_version?: string; updater_failed_version?: string }[];
  };
  return agents.find((a) => a.updater_id === id) ?? {};
}

/** Asks the loop for a pass (through its control socket). */
async function passNow(h: Host): Promise<void> {
  const r = await agent(h, ["update", "--now", "--json"]);
  if (r.code !== 0 && !r.stdout) throw new Error(r.stderr);
}

async function loopOn(
  h: Host & { exe: string },
  env: Record<string, string> = {},
  extra: string[] = [],
): Promise<Loop> {
  const loop = await startLoop(h, extra, { HELLO_STATE: join(w.dir, h.name, "hello.json"), ...env }, h.exe);
  await waitFor("the daemon", () => alive(daemonPid(h)));
  await waitFor("the first pass", () => loop.log().includes("pass: "));
  return loop;
}

describe("supervise: the updater updates itself", () => {
  test("same PID, the daemon untouched and still its child, committed after its first pass", async () => {
    const h = await oldHost("good");
    const off = await oldHost("off", ["--no-self-update"]);
    const loop = await loopOn(h);
    const offLoop = await loopOn(off);
    const daemon = daemonPid(h);
    expect(parentOf(daemon)).toBe(loop.pid);
    mirror.updater.version = NEW;
    const published = Date.now();
    await passNow(h);
    await waitFor(
      "the new updater committed",
      () =>
        existsSync(join(h.installDir, "updater", "state.json")) &&
        selfState(h).active === NEW &&
        !selfState(h).updating,
      60_000,
    );
    console.log(`self-update of one host: ${Date.now() - published} ms from the pass to the commit`);
    expect(loop.proc.exitCode).toBeNull();
    expect(exeOf(loop.pid)).toBe(join(h.installDir, "updater", "versions", NEW, "upkeep"));
    expect(daemonPid(h)).toBe(daemon);
    expect(alive(daemon)).toBe(true);
    expect(parentOf(daemon)).toBe(loop.pid);
    expect(readlinkSync(join(h.installDir, "updater", "current"))).toBe(join("versions", NEW));
    expect(readlinkSync(h.exe)).toBe(join(h.installDir, "updater", "current", "upkeep"));
    expect(await versionVia(h.exe)).toBe(`upkeep ${NEW}`);
    expect(selfState(h).backup).toBe(OLD);
    expect(loop.log()).toContain("kept running across the hand-over");
    // The new image supervises the adopted daemon: a pass runs (and reports the new updater), a stop stops it.
    await passNow(h);
    expect((await reported(h)).updater_version).toBe(NEW);
    expect(await loop.stop()).toBe(0);
    expect(alive(daemon)).toBe(false);

    // --no-self-update: the same answers leave the old updater in place.
    await passNow(off);
    await Bun.sleep(500);
    expect(exeOf(offLoop.pid)).toBe(off.exe);
    expect(await versionVia(off.exe)).toBe(`upkeep ${OLD}`);
    expect(offLoop.log()).toContain("self-update is off");
    await offLoop.stop();
    mirror.updater.version = "";
  });

  test("a new updater that exits at start is rolled back at the next start, skipped and not tried again", async () => {
    const h = await oldHost("broken");
    // The new build kills itself as `agent run` starts (after its trial check): it exits at start.
    const env = { UPKEEP_FAULT: `self:run-start@${NEW}` };
    const first = await loopOn(h, env);
    mirror.updater.version = NEW;
    await passNow(h);
    await Promise.race([first.proc.exited, Bun.sleep(60_000)]);
    expect(first.proc.signalCode).toBe("SIGKILL");
    // The next start (a supervisor, the operator) runs the bin link, which points at the new updater: its
    // second start without a pass restores the old one, which takes over in place.
    const second = await loopOn(h, env);
    await waitFor("the old updater back", async () => (await versionVia(h.exe)) === `upkeep ${OLD}`, 30_000);
    await waitFor(
      "the old image running",
      () => exeOf(second.pid).endsWith(`/versions/${OLD}/upkeep`),
      30_000,
    );
    const st = selfState(h);
    expect(st.skip).toEqual([NEW]);
    expect(st.failed?.version).toBe(NEW);
    expect(st.updating).toBeUndefined();
    expect(second.log()).toMatch(/restored updater 11\.50\.0: updater 11\.51\.0 started again/);
    // Not tried again.
    await passNow(h);
    await Bun.sleep(500);
    expect(exeOf(second.pid)).toEndWith(`/versions/${OLD}/upkeep`);
    expect(second.log()).toContain(`updater ${NEW} failed on this host before and is skipped`);
    expect(await reported(h)).toMatchObject({ updater_version: OLD, updater_failed_version: NEW });
    const status = JSON.parse((await agent(h, ["status", "--json"])).stdout) as { updater: unknown };
    expect(status.updater).toMatchObject({
      active: OLD,
      skip: [NEW],
      updating: null,
      failed: { version: NEW },
    });
    expect((await agent(h, ["status"])).stdout).toMatch(
      /updater:\s+11\.50\.0 \(this is .*; skip 11\.51\.0\)/,
    );
    await second.stop();
    mirror.updater.version = "";
  });

  test("a new updater that hangs in its first pass is restored after 60 s, in place, and skipped", async () => {
    const h = await oldHost("hangs");
    const loop = await loopOn(h, { UPKEEP_FAULT_PAUSE: `self:first-pass@${NEW}=600000` });
    const daemon = daemonPid(h);
    mirror.updater.version = NEW;
    const switched = Date.now();
    await passNow(h);
    await waitFor("the new image", () => exeOf(loop.pid).endsWith(`/versions/${NEW}/upkeep`), 30_000);
    await waitFor("the old image back", () => exeOf(loop.pid).endsWith(`/versions/${OLD}/upkeep`), 90_000);
    const took = Date.now() - switched;
    expect(took).toBeGreaterThan(55_000);
    expect(loop.proc.exitCode).toBeNull();
    expect(daemonPid(h)).toBe(daemon);
    expect(alive(daemon)).toBe(true);
    expect(selfState(h)).toMatchObject({ active: OLD, skip: [NEW] });
    expect(selfState(h).failed?.reason).toContain("did not complete a pass within 60s");
    expect(await versionVia(h.exe)).toBe(`upkeep ${OLD}`);
    await loop.stop();
    mirror.updater.version = "";
  });

  test("an updater signed by the operator's own key: refused, then accepted with --self-trust-key", async () => {
    const keys = join(w.dir, "operator-keys");
    const kg = await runExe(join(builds, OLD, "upkeep"), [
      "release",
      "keygen",
      "--out-dir",
      keys,
      "--unencrypted",
    ]);
    expect(kg.code).toBe(0);
    const signed = join(w.dir, "self-operator");
    await writeSelfRelease({
      out: signed,
      key: join(keys, "upkeep.key"),
      serial: 1,
      executables: [{ path: join(builds, NEW, "upkeep"), version: NEW }],
    });
    const m = startSelfMirror(w, signed);
    m.updater.version = NEW;
    const h = await oldHostOn("operator-key", m.url);
    const loop = await loopOn(h);
    await passNow(h);
    await waitFor("the refusal", () => /updater 11\.51\.0: .*E_SIGNATURE/.test(loop.log()), 30_000);
    expect(exeOf(loop.pid)).toBe(h.exe);
    await loop.stop();
    const r = await runExe(h.exe, [
      "agent",
      "enable",
      ...h.where,
      "--self-trust-key",
      join(keys, "upkeep.pub"),
    ]);
    expect(r.code).toBe(0);
    expect(readStateFile(h).spec.self_trust_keys).toHaveLength(1);
    const again = await loopOn(h);
    await waitFor(
      "the operator-signed updater",
      () => exeOf(again.pid).endsWith(`/versions/${NEW}/upkeep`),
      60_000,
    );
    await again.stop();
  });

  test("two namespaces share one updater: one downloads and switches, the other only hands over", async () => {
    const h = await oldHost("two-ns");
    const r = await runExe(
      h.exe,
      enableArgs(w, h, [
        "--server",
        mirror.url,
        "--base-url",
        `${mirror.url}/artifacts`,
        "--namespace",
        "edge",
        "--bin-dir",
        join(w.dir, "two-ns", "bin-edge"),
      ]),
    );
    expect(r.code).toBe(0);
    const edge: Host & { exe: string } = {
      ...h,
      root: join(h.installDir, "edge"),
      where: [...h.where, "--namespace", "edge"],
      log: join(w.dir, "two-ns", "edge.log"),
      stateFile: join(h.installDir, "edge", "update.yaml"),
    };
    const a = await loopOn(h);
    const b = await loopOn(edge, {}, ["--namespace", "edge"]);
    mirror.updater.version = NEW;
    await passNow(h);
    await waitFor("the first namespace on the new updater", () => selfState(h).active === NEW, 60_000);
    await passNow(edge);
    await waitFor("the second one too", () => exeOf(b.pid).endsWith(`/versions/${NEW}/upkeep`), 60_000);
    expect(exeOf(a.pid)).toEndWith(`/versions/${NEW}/upkeep`);
    expect(b.log()).toContain(`the updater ${NEW} is installed: handing over to it`);
    expect(b.log()).not.toContain("downloading upkeep");
    await a.stop();
    await b.stop();
    mirror.updater.version = "";
  });

  test("a tampered or unsigned updater is refused; the old one keeps running", async () => {
    const h = await oldHost("tampered");
    const loop = await loopOn(h);
    mirror.updater.version = NEW;
    mirror.updater.tamper = (name, bytes) => {
      if (!name.endsWith(`-v${NEW}-linux-amd64`)) return bytes;
      const b = new Uint8Array(bytes);
      b[b.length - 100] = (b[b.length - 100] as number) ^ 0xff;
      return b;
    };
    await passNow(h);
    await waitFor(
      "the refusal",
      () => /updater 11\.51\.0: .*E_CHECKSUM|E_SIGNATURE/.test(loop.log()),
      30_000,
    );
    mirror.updater.tamper = undefined;
    expect(exeOf(loop.pid)).toBe(h.exe);
    expect(await versionVia(h.exe)).toBe(`upkeep ${OLD}`);
    expect(existsSync(join(h.installDir, "updater", "versions", NEW))).toBe(false);

    // Unsigned: a release whose executable has no .minisig.
    const unsigned = join(w.dir, "self-unsigned");
    await writeSelfRelease({
      out: unsigned,
      key: w.key,
      serial: 2,
      executables: [{ path: join(builds, NEW, "upkeep"), version: NEW, unsigned: true }],
    });
    const m2 = startSelfMirror(w, unsigned);
    m2.updater.version = NEW;
    const h2 = await oldHost("unsigned");
    // Pointed at the mirror hosting the unsigned release.
    const r = await runExe(h2.exe, [
      "agent",
      "enable",
      ...h2.where,
      "--server",
      m2.url,
      "--base-url",
      `${m2.url}/artifacts`,
    ]);
    expect(r.code).toBe(0);
    const loop2 = await loopOn(h2);
    await passNow(h2);
    await waitFor("the refusal", () => /not signed/.test(loop2.log()), 30_000);
    expect(exeOf(loop2.pid)).toBe(h2.exe);
    await loop2.stop();
    await loop.stop();
    mirror.updater.version = "";
  });
});

describe("systemd: the agent's own unit is restarted, the daemon's is not", () => {
  test("the unit runs updater/current/upkeep; daemon-reload, restart --no-block upkeep-agent.service (golden)", async () => {
    const calls = join(w.dir, "sd", "systemctl.calls");
    const fake = join(w.dir, "sd", "systemctl");
    mkdirSync(join(w.dir, "sd"), { recursive: true });
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$*" >> '${calls}'\ncase "$1" in\n  show) printf 'MainPID=4242\\nNRestarts=0\\nActiveState=active\\n' ;;\nesac\nexit 0\n`,
    );
    chmodSync(fake, 0o755);
    const env = { UPKEEP_SYSTEMCTL: fake };
    const units = join(w.dir, "sd", "units");
    const h = host(w, "sd-host");
    mkdirSync(h.binDir, { recursive: true });
    const exe = join(h.binDir, "upkeep");
    writeFileSync(exe, readFileSync(join(builds, OLD, "upkeep")), { mode: 0o755 });
    const r = await collect(
      Bun.spawn(
        [
          exe,
          ...enableArgs(w, h, [
            "--server",
            mirror.url,
            "--base-url",
            `${mirror.url}/artifacts`,
            "--service",
            "systemd",
            "--systemd-dir",
            units,
            "--health-wait",
            "300ms",
          ]),
        ],
        { env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      ),
    );
    expect(r.stderr).not.toContain("internal error");
    expect(r.code).toBe(0);
    const sd = { ...h, exe };
    const loop = await startLoop(sd, [], env, exe);
    await waitFor("the first pass", () => loop.log().includes("pass: "));
    const before = readFileSync(calls, "utf8").split("\n").length - 1;
    mirror.updater.version = NEW;
    await passNow(h);
    await waitFor(
      "the restart of the agent's unit",
      () => readFileSync(calls, "utf8").includes("--no-block"),
      60_000,
    );
    const after = readFileSync(calls, "utf8")
      .trim()
      .split("\n")
      .slice(before)
      .filter((c) => !c.startsWith("show "));
    golden("self-update-systemctl.calls", `${after.join("\n")}\n`);
    expect(after.some((c) => c.includes("hello.service") && !c.startsWith("show"))).toBe(false);
    const unit = readFileSync(join(units, "upkeep-agent.service"), "utf8");
    golden("upkeep-agent.self-update.service", unit.replaceAll(h.installDir, "/opt/upkeep"));
    expect(readlinkSync(exe)).toBe(join(h.installDir, "updater", "current", "upkeep"));
    // systemd would now stop the old loop and start the unit's ExecStart: the new updater, on trial.
    await loop.stop();
    const started = await startLoop(sd, [], env, join(h.installDir, "updater", "current", "upkeep"));
    await waitFor(
      "the new updater committed",
      () => selfState(h).active === NEW && !selfState(h).updating,
      60_000,
    );
    expect(exeOf(started.pid)).toBe(join(h.installDir, "updater", "versions", NEW, "upkeep"));
    await started.stop();
    // A later enable through the bin link (the new updater's own file) keeps the unit on current/upkeep.
    const again = await collect(
      Bun.spawn([exe, "agent", "enable", ...h.where, "--group", "g2"], {
        env: { ...process.env, ...env },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    expect(again.code).toBe(0);
    expect(readFileSync(join(units, "upkeep-agent.service"), "utf8")).toContain(
      `ExecStart=${join(h.installDir, "updater", "current", "upkeep")} agent run`,
    );
    mirror.updater.version = "";
  });
});

describe("a fleet follows the server: publish, then every updater switched", () => {
  test("5 hosts, loops every 2 s, no jitter: the time from `admin apply updater_version` to all committed", async () => {
    const hosts = await Promise.all([1, 2, 3, 4, 5].map((i) => oldHostOn(`fleet-${i}`, w.url)));
    const loops = await Promise.all(hosts.map((h) => loopOn(h, {}, ["--interval", "2s"])));
    // Published through serve as an operator would: the executables, their .minisig, upkeep-releases.json.
    await adminOk(w, [
      "publish",
      join(releases, `upkeep-v${NEW}-linux-amd64`),
      join(releases, `upkeep-v${OLD}-linux-amd64`),
    ]);
    const t0 = Date.now();
    await adminOk(w, ["apply", "-f", "-"], `kind: server\nupdater_version: ${NEW}\n`);
    await waitFor(
      "every updater committed",
      () =>
        hosts.every(
          (h) =>
            existsSync(join(h.installDir, "updater", "state.json")) &&
            selfState(h).active === NEW &&
            !selfState(h).updating,
        ),
      90_000,
    );
    const ms = Date.now() - t0;
    console.log(
      `fleet of ${hosts.length}: every updater switched and committed ${ms} ms after admin apply updater_version ${NEW}`,
    );
    for (const [i, loop] of loops.entries()) {
      expect(exeOf(loop.pid)).toBe(join((hosts[i] as Host).installDir, "updater", "versions", NEW, "upkeep"));
      expect(await loop.stop()).toBe(0);
    }
    await adminOk(w, ["apply", "-f", "-"], "kind: server\nupdater_version: off\n");
  });
});
