/** The systemd backend against a fake systemctl that models one unit (state, MainPID, NRestarts). */
import { describe, expect, test } from "bun:test";
import { type Systemctl, type SystemctlResult, SystemdBackend } from "./systemd.ts";

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
