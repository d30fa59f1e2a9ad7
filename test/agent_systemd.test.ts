/**
 * The systemd backend. systemd cannot run on the test machines, so: (1) golden files for the generated units
 * and for update.yaml (`UPDATE_GOLDEN=1` rewrites them), and (2) the compiled binary against a recording
 * fake `systemctl` (UPKEEP_SYSTEMCTL): enable writes the units and starts them, an update is
 * `daemon-reload` + `restart`, health comes from `systemctl show`, uninstall disables and removes.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AgentState,
  agentUnit,
  daemonDropIn,
  daemonUnit,
  formatState,
  parseState,
  quoteArg,
  type UnitInput,
} from "../core/agent/mod.ts";
import { agent, enable, type Host, host, publish, setTarget, useWorld, type World } from "./agent_helpers.ts";
import { ROOT, upkeep } from "./cli.ts";

setDefaultTimeout(60_000);

const GOLDEN = join(ROOT, "test", "golden", "agent");

function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, "utf8"));
}

const INPUT: UnitInput = {
  spec: {
    daemon: "hello",
    daemonArgs: ["serve", "--port", "3080", "--label=a b"],
    binDir: "/usr/local/bin",
    product: "hello",
  },
  upkeepPath: "/usr/local/bin/upkeep",
  installDir: "/opt/upkeep",
  namespace: "default",
  interval: "5m",
};

const STATE: AgentState = {
  spec: {
    server: "https://upkeep.example.com",
    product: "hello",
    group: "prod",
    baseUrl: "https://cdn.example.com/hello",
    trustKeys: ["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"],
    token: "agent-token",
    insecure: false,
    edition: "oss",
    fips: false,
    service: "systemd",
    daemon: "hello",
    daemonArgs: ["serve"],
    healthUrl: "http://127.0.0.1:3080/healthz",
    healthCmd: "",
    healthWaitMs: 10_000,
    healthTimeoutMs: 5_000,
    binDir: "/usr/local/bin",
    systemdDir: "/etc/systemd/system",
    interval: "5m",
    enabled: true,
    pinned: false,
    updaterId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
  },
  status: {
    active: "17.0.1",
    backup: "17.0.0",
    skip: ["17.0.2"],
    updating: { from: "17.0.1", to: "17.1.0", started: "2026-01-05T10:00:00.000Z" },
    manifestSerial: 42,
    lastCheck: "2026-01-05T10:00:00.000Z",
    lastResult: "updated from 17.0.0 to 17.0.1",
    lastError: "",
    lastReportError: "",
    skipByOperator: [],
  },
};

describe("golden files", () => {
  test("upkeep-agent.service", () => golden("upkeep-agent.service", agentUnit(INPUT).text));
  test("hello.service (upkeep manages the daemon's unit)", () =>
    golden("hello.service", daemonUnit(INPUT).text));
  test("hello.service.d/50-upkeep.conf (the operator's unit, a drop-in)", () =>
    golden("hello.service.d-50-upkeep.conf", daemonDropIn(INPUT).text));
  test("a namespace other than default names the agent unit after it", () => {
    expect(agentUnit({ ...INPUT, namespace: "edge" }).path).toBe("upkeep-agent-edge.service");
  });
  test("update.yaml", () => {
    const text = formatState(STATE);
    golden("update.yaml", text);
    expect(parseState(text)).toEqual(STATE);
  });
  test("systemd quoting of ExecStart arguments", () => {
    expect(quoteArg("serve")).toBe("serve");
    expect(quoteArg("a b")).toBe('"a b"');
    expect(quoteArg('say "hi" $HOME 100%')).toBe('"say \\"hi\\" $$HOME 100%%"');
  });
});

let w: World;
let h: Host;
let calls: string;
let env: Record<string, string>;
let units: string;

useWorld("agent-systemd", async (world) => {
  w = world;
  await publish(w, ["11.0.0", "11.1.0"]);
  await setTarget(w, "11.0.0");
  h = host(w, "s");
  units = join(w.dir, "s", "units");
  calls = join(w.dir, "systemctl.calls");
  const fake = join(w.dir, "systemctl");
  writeFileSync(
    fake,
    `#!/bin/sh
echo "$*" >> '${calls}'
case "$1" in
  show) printf 'MainPID=4242\\nNRestarts=0\\nActiveState=active\\n' ;;
esac
exit 0
`,
  );
  chmodSync(fake, 0o755);
  env = { UPKEEP_SYSTEMCTL: fake };
});

const recorded = () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : []);

describe("the systemd backend against a recording systemctl", () => {
  test("enable: first install, units written, reload, enable --now the daemon and the agent, health from show", async () => {
    const r = await enable(
      w,
      h,
      ["--service", "systemd", "--systemd-dir", units, "--health-wait", "300ms"],
      env,
    );
    expect(r.stderr).not.toContain("internal error");
    expect(r.code).toBe(0);
    const agentText = readFileSync(join(units, "upkeep-agent.service"), "utf8");
    expect(agentText).toContain(`agent run --install-dir ${h.installDir} --namespace default\n`);
    const daemonText = readFileSync(join(units, "hello.service"), "utf8");
    expect(daemonText).toContain(`ExecStart=${h.binDir}/hello serve`);
    const c = recorded();
    expect(c.slice(0, 3)).toEqual([
      "daemon-reload",
      "enable --now hello.service",
      "enable --now upkeep-agent.service",
    ]);
    expect(c.slice(3).every((x) => x.startsWith("show hello.service"))).toBe(true);
    expect(JSON.parse((await agent(h, ["status", "--json"])).stdout)).toMatchObject({
      service: "systemd",
      active: "11.0.0",
    });
  });

  test("update: daemon-reload then restart (starts an inactive unit, unlike try-restart), health from systemctl show", async () => {
    writeFileSync(calls, "");
    await setTarget(w, "11.1.0", "11.0.0");
    const r = await agent(h, ["update", "--now", "--json"], env);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "updated", from: "11.0.0", to: "11.1.0" });
    const c = recorded().filter((x) => !x.startsWith("show"));
    expect(c).toEqual(["daemon-reload", "restart hello.service"]);
  });

  test("uninstall: disable --now, units removed, reload", async () => {
    writeFileSync(calls, "");
    const r = await agent(h, ["uninstall"], env);
    expect(r.code).toBe(0);
    expect(recorded()).toEqual([
      "disable --now upkeep-agent.service",
      "disable --now hello.service",
      "daemon-reload",
    ]);
    expect(existsSync(join(units, "upkeep-agent.service"))).toBe(false);
    expect(existsSync(join(units, "hello.service"))).toBe(false);
    expect(existsSync(h.root)).toBe(false);
  });

  test("enable: a daemon that is not healthy after the start exits 1, keeps the config, says what to check", async () => {
    const x = host(w, "sick");
    const dir = join(w.dir, "sick", "units");
    const sick = join(w.dir, "systemctl-sick");
    writeFileSync(
      sick,
      `#!/bin/sh
case "$1" in
  show) printf 'MainPID=0\\nNRestarts=0\\nActiveState=failed\\n' ;;
esac
exit 0
`,
    );
    chmodSync(sick, 0o755);
    await setTarget(w, "11.0.0");
    const r = await enable(
      w,
      x,
      ["--service", "systemd", "--systemd-dir", dir, "--health-wait", "300ms", "--json"],
      { UPKEEP_SYSTEMCTL: sick },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("E_UNHEALTHY");
    expect(r.stderr).toContain("systemctl status hello.service");
    expect(r.stderr).toContain("journalctl -u hello.service");
    expect(JSON.parse(r.stdout)).toMatchObject({ active: "11.0.0", healthy: false });
    expect(existsSync(x.stateFile)).toBe(true);
    // The hint points at `agent status`: it shows the verdict.
    const st = await agent(x, ["status", "--json"], { UPKEEP_SYSTEMCTL: sick });
    const view = JSON.parse(st.stdout) as { last_error: string | null; last_result: string | null };
    expect(view.last_error).toContain("not healthy after the start");
    expect(view.last_error).toContain("E_UNHEALTHY");
    expect(view.last_result).toContain("not healthy");
    // A bare enable again keeps the stored systemd settings (not the host's default, supervise here).
    const again = await upkeep(["agent", "enable", ...x.where, "--json"], {
      env: { UPKEEP_SYSTEMCTL: sick },
    });
    expect(again.stderr).not.toContain("required option");
    expect(JSON.parse(again.stdout)).toMatchObject({ service: "systemd", existing: true, changed: [] });
    expect(readFileSync(x.stateFile, "utf8")).toContain(`systemd_dir: ${dir}`);
  });

  test("an operator-owned daemon unit gets a drop-in, not a replacement", async () => {
    const x = host(w, "owned");
    const dir = join(w.dir, "owned", "units");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "hello.service"), "[Service]\nExecStart=/srv/hello serve\n");
    await setTarget(w, "11.0.0");
    const r = await enable(w, x, ["--service", "systemd", "--systemd-dir", dir, "--health-wait", "0s"], env);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "hello.service"), "utf8")).toBe("[Service]\nExecStart=/srv/hello serve\n");
    expect(readFileSync(join(dir, "hello.service.d", "50-upkeep.conf"), "utf8")).toContain(
      "Restart=on-failure",
    );
  });
});
