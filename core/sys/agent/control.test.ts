/**
 * The control socket's protection (issue 10, item 7): a 0700 folder of the loop's user whatever the umask,
 * a 0600 socket, and the caller's uid checked (SO_PEERCRED) before a request is read. The end-to-end test
 * as `nobody` is test/agent_control.test.ts.
 */
import { afterAll, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isUpkeepError } from "../../errors.ts";
import { askLoop, type ControlRequest, listenControl, loadPeerUid, privateSocketDir } from "./control.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "upkeep-control-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const me = process.geteuid?.() ?? 0;
const handled: ControlRequest[] = [];
const handle = async (req: ControlRequest) => {
  handled.push(req);
  return { ok: true, pid: process.pid };
};

test("under umask 000 the folder is 0700 and the socket 0600, owned by this user", async () => {
  const socket = join(tmp(), "ns", "control", "agent.sock");
  mkdirSync(join(socket, "..", ".."), { mode: 0o755 });
  const old = process.umask(0);
  let server: Awaited<ReturnType<typeof listenControl>>;
  try {
    server = await listenControl(socket, handle);
  } finally {
    process.umask(old);
  }
  try {
    const d = statSync(join(socket, ".."));
    expect(d.mode & 0o777).toBe(0o700);
    expect(d.uid).toBe(me);
    const s = lstatSync(socket);
    expect(s.isSocket()).toBe(true);
    expect(s.mode & 0o777).toBe(0o600);
    // The owner still asks and is answered.
    expect(await askLoop(socket, { cmd: "ping" }, 5000)).toEqual({ ok: true, pid: process.pid });
  } finally {
    server.stop();
  }
});

test("an existing folder with loose modes is made 0700; a link or someone else's folder is refused", () => {
  const base = tmp();
  const loose = join(base, "loose");
  mkdirSync(loose, { mode: 0o777 });
  privateSocketDir(loose, me);
  expect(statSync(loose).mode & 0o777).toBe(0o700);

  const link = join(base, "link");
  symlinkSync(loose, link);
  expect(() => privateSocketDir(link, me)).toThrow(/is not a folder/);

  expect(() => privateSocketDir(loose, me + 1)).toThrow(
    new RegExp(`belongs to uid ${me}, not to this agent's user \\(uid ${me + 1}\\)`),
  );
  // A folder in the way (a link, someone else's) is E_EXISTS: upkeep does not replace it.
  const codeOf = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return isUpkeepError(e) ? e.code : undefined;
    }
  };
  expect(codeOf(() => privateSocketDir(link, me))).toBe("E_EXISTS");
  expect(codeOf(() => privateSocketDir(loose, me + 1))).toBe("E_EXISTS");
});

test("SO_PEERCRED reads the caller's uid on this platform", async () => {
  if (process.platform !== "linux" && process.platform !== "darwin") return;
  // Loaded once, also when asked twice at the same time.
  const [read, again] = await Promise.all([loadPeerUid(), loadPeerUid()]);
  expect(read).not.toBeNull();
  expect(again).toBe(read);
  let seen: number | undefined;
  const socket = join(tmp(), "control", "agent.sock");
  const server = await listenControl(socket, handle, {
    peerUid: (fd) => {
      seen = read?.(fd);
      return seen;
    },
  });
  try {
    expect((await askLoop(socket, { cmd: "ping" }, 5000))?.ok).toBe(true);
    expect(seen).toBe(me);
  } finally {
    server.stop();
  }
});

test("a caller of another uid, or one that cannot be identified, is refused before its request runs", async () => {
  for (const [uid, want] of [
    [me + 4242, `uid ${me + 4242} may not control the agent run loop of uid ${me}`],
    [undefined, "cannot tell who is asking"],
  ] as const) {
    const socket = join(tmp(), "control", "agent.sock");
    const server = await listenControl(socket, handle, { peerUid: () => uid });
    handled.length = 0;
    try {
      const r = await askLoop(socket, { cmd: "stop" }, 5000);
      expect(r?.ok).toBe(false);
      expect(r?.error?.code).toBe("E_UNAUTHORIZED");
      expect(r?.error?.message).toContain(want);
      expect(handled).toEqual([]);
    } finally {
      server.stop();
    }
  }
  // Root is always allowed.
  const socket = join(tmp(), "control", "agent.sock");
  const server = await listenControl(socket, handle, { peerUid: () => 0 });
  try {
    expect((await askLoop(socket, { cmd: "ping" }, 5000))?.ok).toBe(true);
  } finally {
    server.stop();
  }
});

test("no socket: no loop (undefined), not an error", async () => {
  expect(await askLoop(join(tmp(), "control", "agent.sock"), { cmd: "ping" }, 5000)).toBeUndefined();
});
