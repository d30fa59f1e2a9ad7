/**
 * Client tools on a real terminal (tmux): the enrollment prompt, the progress bar, and Ctrl-C during a
 * throttled download (partial download removed, the installed version runs).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  closeWorld,
  type Mirror,
  publish,
  setToolsTarget,
  startMirror,
  startWorld,
  type World,
} from "./agent_helpers.ts";
import { UPKEEP, upkeep } from "./cli.ts";

const hasTmux = Bun.spawnSync(["sh", "-c", "command -v tmux"]).exitCode === 0;
if (!hasTmux && process.env.CI) throw new Error("tmux is required under CI (apt-get install tmux)");

let w: World;
let mirror: Mirror;
const session = `upkeep-tools-${process.pid}`;

beforeAll(async () => {
  if (!hasTmux) return;
  w = await startWorld("tty", { serveArgs: ["--server-version", "6.1.0"] });
  await publish(w, ["6.0.0", "6.1.0"], "release", undefined, { sizeMb: 16 });
  // Tools follow the cluster once a version policy exists (none at all: nothing updates).
  await setToolsTarget(w, "6.1.0");
  // 6.1.0 is large; the mirror throttles it to ~2 MiB/s so there is time to see the bar and press Ctrl-C.
  mirror = startMirror(w, {
    after: (path, r) => {
      if (!path.endsWith("-v6.1.0-linux-amd64-bin.tar.gz") || !r.body) return r;
      const reader = r.body.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { done, value } = await reader.read();
          if (done) return c.close();
          for (let off = 0; off < value.length; off += 32768) {
            c.enqueue(value.subarray(off, off + 32768));
            await Bun.sleep(15);
          }
        },
        cancel: () => reader.cancel(),
      });
      return new Response(body, { status: r.status, headers: r.headers });
    },
  });
});

afterAll(async () => {
  if (!hasTmux) return;
  Bun.spawnSync(["tmux", "kill-session", "-t", session]);
  if (w) await closeWorld(w);
});

const tmux = (...args: string[]) => Bun.spawnSync(["tmux", ...args], { stdout: "pipe", stderr: "pipe" });
const screen = () => tmux("capture-pane", "-p", "-t", session).stdout.toString();

async function waitFor(what: RegExp, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = screen();
    if (what.test(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} on the terminal:\n${s}`);
    await Bun.sleep(100);
  }
}

test.skipIf(!hasTmux)(
  "enrollment prompt, progress bar, and Ctrl-C during a download",
  async () => {
    const home = mkdtempSync(join(tmpdir(), "upkeep-tty-home-"));
    const tools = join(home, "tools");
    const bin = join(home, "bin");
    const base = `${mirror.url}/artifacts`;
    const shell = `export HOME=${home} UPKEEP_TOOLS_DIR=${tools} PATH=${bin}:$PATH PS1='$ '; exec sh`;
    expect(tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", shell).exitCode).toBe(0);

    // First login on a terminal asks; an empty answer means YES.
    tmux(
      "send-keys",
      "-t",
      session,
      `${UPKEEP} tools login --server ${w.url} --product hello --base-url ${base} --trust-key ${w.pub}`,
      "Enter",
    );
    await waitFor(/Enroll client tools into automatic updates\? \[YES\/no\]/);
    tmux("send-keys", "-t", session, "", "Enter");
    await waitFor(/logged in to .* follow the cluster automatically/);

    // Install 6.0.0 first (small, not throttled), then the cluster moves to the large 6.1.0.
    const env = { HOME: home, UPKEEP_TOOLS_DIR: tools };
    expect((await upkeep(["tools", "install-shims", "--dir", bin, "hello"], { env })).code).toBe(0);
    expect(
      (
        await upkeep(["tools", "exec", "hello", "version"], {
          env: { ...env, UPKEEP_TOOLS_VERSION: "6.0.0" },
        })
      ).stdout,
    ).toContain("hello v6.0.0");
    tmux("send-keys", "-t", session, "clear", "Enter");
    tmux("send-keys", "-t", session, "hello version", "Enter");
    await waitFor(/Updating client tools to v6\.1\.0\./);
    const bar = await waitFor(/Update progress: \[▒*\s*\] \d+% [\d.]+ MB\/s \(Ctrl-C to cancel\)/);
    expect(bar).toContain("(Ctrl-C to cancel)");
    tmux("send-keys", "-t", session, "C-c");
    const after = await waitFor(/hello v6\.0\.0/);
    expect(after).toContain("WARNING: Client tools failed to update, some functionality may be broken.");
    // Nothing partial survives.
    const left = readdirSync(tools);
    expect(
      left.filter((n) => n.startsWith(".tmp") || n.startsWith(".download") || n.endsWith(".part")),
    ).toEqual([]);
    expect(left).not.toContain("6.1.0");

    // One Ctrl-C reaches a tool started through a shim once (the terminal sends it to the whole foreground
    // process group; the shim does not send it again), as it does when the tool is run directly.
    tmux("send-keys", "-t", session, "clear", "Enter");
    tmux("send-keys", "-t", session, "UPKEEP_TOOLS_VERSION=6.0.0 hello signals", "Enter");
    await waitFor(/hello v6\.0\.0 counting SIGINT/);
    tmux("send-keys", "-t", session, "C-c");
    await waitFor(/hello: SIGINT 1/);
    await Bun.sleep(500);
    expect(screen()).not.toContain("hello: SIGINT 2");
    tmux("send-keys", "-t", session, "C-c");
    await waitFor(/hello: SIGINT 2/);
    tmux("send-keys", "-t", session, "C-c");
    const done = await waitFor(/hello: SIGINT 3\s*\n\$/);
    expect(done).not.toContain("SIGINT 4");
  },
  60_000,
);
