/** The self-update's steps on disk with fake ports (no network, no build): keep, install, switch, refusals. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentSpec } from "../../agent/types.ts";
import { UpkeepError } from "../../errors.ts";
import {
  ensureBinLink,
  readSelfState,
  type SelfContext,
  type SelfPorts,
  selfLayout,
  selfUpdate,
} from "./self_update.ts";

const root = mkdtempSync(join(tmpdir(), "upkeep-self-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function world(o: { fetch?: SelfPorts["fetch"]; check?: SelfPorts["check"] } = {}) {
  const dir = join(root, String(++n));
  const installDir = join(dir, "install");
  const binDir = join(dir, "bin");
  mkdirSync(binDir, { recursive: true });
  const exe = join(binDir, "upkeep");
  writeFileSync(exe, "#!/bin/sh\necho upkeep 1.0.0\n", { mode: 0o755 });
  const ports: SelfPorts = {
    running: "1.0.0",
    executable: exe,
    fetch:
      o.fetch ??
      (async (f) => {
        mkdirSync(join(f.dest, ".."), { recursive: true });
        writeFileSync(f.dest, `#!/bin/sh\necho upkeep ${f.version}\n`, { mode: 0o755 });
        return { serial: 7 };
      }),
    check: o.check ?? (async () => {}),
    now: () => new Date("2026-12-01T10:00:00Z"),
  };
  const spec = {
    binDir,
    baseUrl: "http://127.0.0.1:1/artifacts",
    insecure: false,
    enabled: true,
    pinned: false,
  } as AgentSpec;
  const c: SelfContext = { installDir, namespace: "default", spec, ports, log: () => {} };
  return { c, installDir, binDir, exe };
}

const install = { action: "install", target: "1.1.0", reason: "test", waitMs: 0 } as const;

describe("selfUpdate", () => {
  test("keeps the running executable, installs, records the intent, switches, links the bin", async () => {
    const { c, installDir, exe } = world();
    const r = await selfUpdate(c, install);
    expect(r).toMatchObject({ outcome: "handover", target: "1.1.0" });
    const l = selfLayout(installDir);
    expect(existsSync(join(l.versionsDir, "1.0.0", "upkeep"))).toBe(true);
    expect(existsSync(join(l.versionsDir, "1.1.0", "upkeep"))).toBe(true);
    expect(readlinkSync(l.current)).toBe(join("versions", "1.1.0"));
    expect(readlinkSync(exe)).toBe(join(l.current, "upkeep"));
    const s = await readSelfState(l);
    expect(s.updating).toMatchObject({ from: "1.0.0", to: "1.1.0", starts: {} });
    expect(s.manifestSerial).toBe(7);
  });

  test("a refused download (signature) is recorded, not skipped; nothing switched", async () => {
    const { c, installDir } = world({
      fetch: async () => {
        throw new UpkeepError("E_SIGNATURE", "bad signature");
      },
    });
    const r = await selfUpdate(c, install);
    expect(r.outcome).toBe("refused");
    const s = await readSelfState(selfLayout(installDir));
    expect(s.skip).toEqual([]);
    expect(s.lastError).toContain("E_SIGNATURE");
    expect(readlinkSync(selfLayout(installDir).current)).toBe(join("versions", "1.0.0"));
  });

  test("a new updater failing its checks is skipped, reported as failed, its file removed", async () => {
    const { c, installDir } = world({
      check: async () => {
        throw new UpkeepError("E_SMOKE", "agent self-test exited 1");
      },
    });
    expect((await selfUpdate(c, install)).outcome).toBe("refused");
    const l = selfLayout(installDir);
    const s = await readSelfState(l);
    expect(s.skip).toEqual(["1.1.0"]);
    expect(s.failed?.version).toBe("1.1.0");
    expect(existsSync(join(l.versionsDir, "1.1.0"))).toBe(false);
    expect(existsSync(join(l.workDir, "1.1.0", "upkeep"))).toBe(false);
  });

  test("a server out of reach during the self-test: retried, not skipped", async () => {
    const { c, installDir } = world({
      check: async () => {
        throw new UpkeepError("E_NETWORK", "could not reach the server");
      },
    });
    await selfUpdate(c, install);
    expect((await readSelfState(selfLayout(installDir))).skip).toEqual([]);
  });
});

describe("ensureBinLink", () => {
  test("another file at <bin>/upkeep (a package's) is left alone", async () => {
    const { c, installDir, exe } = world();
    writeFileSync(exe, "someone else's upkeep", { mode: 0o755 });
    const other = { ...c, ports: { ...c.ports, executable: join(root, "elsewhere") } };
    await ensureBinLink(other, selfLayout(installDir));
    expect(lstatSync(exe).isSymbolicLink()).toBe(false);
  });
  test("none there: made", async () => {
    const { c, installDir, exe } = world();
    rmSync(exe);
    await ensureBinLink(c, selfLayout(installDir));
    expect(readlinkSync(exe)).toBe(join(selfLayout(installDir).current, "upkeep"));
  });
});
