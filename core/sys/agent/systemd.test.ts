/** The systemd backend against a fake systemctl that models one unit (state, MainPID, NRestarts). */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UNIT_MARK } from "../../agent/systemd.ts";
import { type Systemctl, type SystemctlResult, SystemdBackend, unitOwner } from "./systemd.ts";

/** systemd's behaviour as far as the backend sees it: try-restart leaves an inactive unit alone; a manual
 * (re)start resets NRestarts. */
class FakeUnit implements Systemctl {
  calls: string[] = [];
  active = false;
  pid = 0;
  nRestarts = 0;
  #next = 1000;
  async run(args: string[]): Promise<SystemctlResult> {
    this.calls.push(args.join(" "));
    const [cmd] = args;
    if (cmd === "show")
      return {
        code: 0,
        stdout: `MainPID=${this.pid}\nNRestarts=${this.nRestarts}\nActiveState=${this.active ? "active" : "failed"}\n`,
        stderr: "",
      };
    if (cmd === "restart" || (cmd === "try-restart" && this.active)) {
      this.active = true;
      this.pid = this.#next++;
      this.nRestarts = 0;
    }
    return { code: 0, stdout: "", stderr: "" };
  }
  /** The daemon crashed and systemd restarted it (Restart=on-failure). */
  crash(): void {
    this.pid = this.#next++;
    this.nRestarts++;
  }
}

describe("SystemdBackend", () => {
  test("restart() starts an inactive (failed) unit: the new version runs", async () => {
    const unit = new FakeUnit();
    const b = new SystemdBackend(unit, "hello.service");
    expect(await b.healthyNow()).toBe(false);
    await b.restart();
    expect(unit.calls.filter((c) => !c.startsWith("show"))).toEqual([
      "daemon-reload",
      "restart hello.service",
    ]);
    expect((await b.sample()).pid).not.toBe(0);
    expect(await b.healthyNow()).toBe(true);
  });

  test("crashes after the restart are counted although systemd reset NRestarts on the manual restart", async () => {
    const unit = new FakeUnit();
    unit.active = true;
    unit.pid = 10;
    unit.nRestarts = 3; // crashes of the old version before the update
    const b = new SystemdBackend(unit, "hello.service");
    await b.restart();
    expect((await b.sample()).restarts).toBe(0);
    unit.crash();
    expect((await b.sample()).restarts).toBe(1);
  });
});

describe("unitOwner", () => {
  test("upkeep's unit, the operator's, or none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "upkeep-units-"));
    try {
      writeFileSync(join(dir, "ours.service"), `${UNIT_MARK}; upkeep agent uninstall removes it.\n[Unit]\n`);
      writeFileSync(join(dir, "theirs.service"), "[Unit]\nDescription=hello\n");
      expect(await unitOwner(join(dir, "ours.service"))).toBe("upkeep");
      expect(await unitOwner(join(dir, "theirs.service"))).toBe("operator");
      expect(await unitOwner(join(dir, "none.service"))).toBe("none");
      await expect(unitOwner(dir)).rejects.toMatchObject({ code: "E_IO" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
