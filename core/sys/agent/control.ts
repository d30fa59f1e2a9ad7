/**
 * The control socket of a running `agent run` loop (`<ns>/control/agent.sock`): `agent update`, `pin`,
 * `rollback` and `uninstall` ask the loop instead of running a second updater beside it. One JSON line
 * each way.
 *
 * Only the agent's user (and root) may ask: the socket lives in a folder of its own, 0700 and owned by the
 * loop's user whatever the umask (the namespace folder stays 0755: a daemon running as another user
 * traverses it to `current/bin`), the socket itself is 0600, and the loop checks each caller's uid
 * (SO_PEERCRED; getpeereid on macOS) before reading its request. A caller it cannot identify is refused.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { isUpkeepError, UpkeepError } from "../../errors.ts";
import { errorCodeOf } from "../io_error.ts";
import { openLibc } from "../libc.ts";

export interface ControlRequest {
  cmd: "ping" | "update" | "pin" | "rollback" | "stop";
  now?: boolean;
  version?: string;
}

export interface ControlResponse {
  ok: boolean;
  pid?: number;
  result?: unknown;
  error?: { code: string; message: string; hint?: string };
}

/** Sends a request to the loop; undefined when no loop listens (no socket, or a stale one). */
export async function askLoop(
  socket: string,
  req: ControlRequest,
  timeoutMs: number,
): Promise<ControlResponse | undefined> {
  return new Promise((resolve, reject) => {
    let buf = "";
    let settled = false;
    const done = (v: ControlResponse | undefined, err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(
      () =>
        done(
          undefined,
          new UpkeepError(
            "E_LOCKED",
            `the agent run loop (${socket}) did not answer in ${Math.round(timeoutMs / 1000)}s`,
            {
              hint: "it may be busy with a long download; try again later",
            },
          ),
        ),
      timeoutMs,
    );
    Bun.connect({
      unix: socket,
      socket: {
        open(s) {
          s.write(`${JSON.stringify(req)}\n`);
        },
        data(_s, data) {
          buf += new TextDecoder().decode(data);
          const i = buf.indexOf("\n");
          if (i >= 0) {
            try {
              done(JSON.parse(buf.slice(0, i)) as ControlResponse);
            } catch (e) {
              done(undefined, e);
            }
          }
        },
        close() {
          if (!settled)
            done(undefined, new UpkeepError("E_IO", `the agent run loop closed ${socket} without answering`));
        },
        error(_s, e) {
          done(undefined, e);
        },
        connectError(_s, e) {
          done(undefined, refusedConnect(socket, e));
        },
      },
    }).catch((e) => done(undefined, refusedConnect(socket, e)));
  });
}

/**
 * A failed connect: undefined (no loop listens: no socket, or a stale one), or, when the caller may not
 * reach the socket (EACCES, EPERM), an error saying who may: never taken for "no loop", which would run a
 * second updater beside it.
 */
function refusedConnect(socket: string, e: unknown): UpkeepError | undefined {
  const code = errorCodeOf(e);
  if (code !== "EACCES" && code !== "EPERM") return undefined;
  return new UpkeepError(
    "E_UNAUTHORIZED",
    `cannot reach the agent run loop at ${socket}: permission denied (only the agent's user and root may ask it)`,
    { hint: "run the command as the user the agent runs as (root for /opt/upkeep)" },
  );
}

export interface ControlServer {
  /** Stops listening; a request still waiting for its answer gets `why` (E_CANCELLED) when given. */
  stop(why?: string): void;
}

/** Reads the uid of the process at the other end of a connected unix socket; undefined if it cannot. */
export type PeerUid = (fd: number) => number | undefined;

let peerUidLoad: Promise<PeerUid | null> | undefined;

/** The peer uid reader of this platform (SO_PEERCRED on Linux, getpeereid on macOS), or null. */
export function loadPeerUid(): Promise<PeerUid | null> {
  peerUidLoad ??= openPeerUid();
  return peerUidLoad;
}

async function openPeerUid(): Promise<PeerUid | null> {
  let peerUidFn: PeerUid | null = null;
  const ffi = await import("bun:ffi").catch(() => undefined);
  if (!ffi) return null;
  const { FFIType, ptr } = ffi;
  if (process.platform === "linux") {
    const lib = await openLibc({
      getsockopt: {
        args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
        returns: FFIType.i32,
      },
    });
    if (lib) {
      const SOL_SOCKET = 1;
      const SO_PEERCRED = 17;
      peerUidFn = (fd) => {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        const cred = new Uint32Array(3);
        const len = new Uint32Array([12]);
        const rc = lib.symbols.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(len)) as number;
        return rc === 0 && len[0] === 12 ? cred[1] : undefined;
      };
    }
  } else if (process.platform === "darwin") {
    const lib = await openLibc({
      getpeereid: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    });
    if (lib) {
      peerUidFn = (fd) => {
        const uid = new Uint32Array(1);
        const gid = new Uint32Array(1);
        const rc = lib.symbols.getpeereid(fd, ptr(uid), ptr(gid)) as number;
        return rc === 0 ? uid[0] : undefined;
      };
    }
  }
  return peerUidFn;
}

/**
 * The socket's folder: made 0700 (mkdir's mode is only ever reduced by the umask, and it is chmod-ed
 * anyway), and refused when it is not a real folder of this process's user (a link, or made by someone
 * else), so nobody else can reach the socket, whatever the umask and before it exists.
 */
export function privateSocketDir(dir: string, uid: number | undefined): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (errorCodeOf(e) !== "EEXIST") throw e;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory())
    throw new UpkeepError("E_EXISTS", `${dir} is not a folder: refusing to put the control socket there`, {
      hint: "remove it; `upkeep agent run` makes it again (0700)",
    });
  if (uid !== undefined && st.uid !== uid)
    throw new UpkeepError(
      "E_EXISTS",
      `${dir} belongs to uid ${st.uid}, not to this agent's user (uid ${uid}): refusing to put the control socket there`,
      { hint: "remove it; `upkeep agent run` makes it again (0700)" },
    );
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

const refusal = (code: string, message: string, hint?: string) =>
  `${JSON.stringify({ ok: false, error: { code, message, ...(hint ? { hint } : {}) } })}\n`;

/**
 * Listens on the socket (removing a stale one) in its private folder; `handle` answers each request of
 * the agent's user or root. Others get E_UNAUTHORIZED and nothing is done.
 */
export async function listenControl(
  socket: string,
  handle: (req: ControlRequest) => Promise<ControlResponse>,
  o: { peerUid?: PeerUid | null } = {},
): Promise<ControlServer> {
  const me = process.geteuid?.();
  const peerUid = o.peerUid === undefined ? await loadPeerUid() : o.peerUid;
  privateSocketDir(dirname(socket), me);
  try {
    unlinkSync(socket);
  } catch {}
  const waiting = new Set<{ end(data: string): void }>();
  const server = Bun.listen<{ buf: string; refused: string }>({
    unix: socket,
    socket: {
      open(s) {
        s.data = { buf: "", refused: "" };
        // Who is asking, before a byte of the request is read.
        // Bun's accepted socket carries its descriptor (not in its types).
        const fd = (s as unknown as { fd?: unknown }).fd;
        const uid = peerUid && typeof fd === "number" && fd >= 0 ? peerUid(fd) : undefined;
        if (uid === undefined)
          s.data.refused = `the agent run loop cannot tell who is asking on ${socket} (no SO_PEERCRED here): refused`;
        else if (uid !== 0 && uid !== me)
          s.data.refused = `uid ${uid} may not control the agent run loop of uid ${me}: only its user and root may`;
      },
      data(s, data) {
        s.data.buf += new TextDecoder().decode(data);
        const i = s.data.buf.indexOf("\n");
        if (i < 0) {
          if (s.data.buf.length > 4096) s.end();
          return;
        }
        // A refused caller gets its answer once its request is in (closing on unread bytes would reset
        // the connection and lose the answer).
        if (s.data.refused) {
          s.end(refusal("E_UNAUTHORIZED", s.data.refused));
          return;
        }
        let req: ControlRequest;
        try {
          req = JSON.parse(s.data.buf.slice(0, i)) as ControlRequest;
        } catch {
          s.end(refusal("E_MALFORMED", "bad request"));
          return;
        }
        s.data.buf = "";
        waiting.add(s);
        handle(req).then(
          (r) => {
            waiting.delete(s);
            s.end(`${JSON.stringify(r)}\n`);
          },
          (e) =>
            waiting.delete(s) &&
            s.end(
              isUpkeepError(e)
                ? refusal(e.code, e.message, e.hint)
                : refusal("E_INTERNAL", e instanceof Error ? e.message : String(e)),
            ),
        );
      },
    },
  });
  // 0600 as well (the folder already keeps others out).
  chmodSync(socket, 0o600);
  return {
    stop: (why?: string) => {
      if (why)
        for (const s of waiting)
          s.end(refusal("E_CANCELLED", why, "ask again: the loop is back in a moment"));
      waiting.clear();
      server.stop(true);
      try {
        unlinkSync(socket);
      } catch {}
    },
  };
}
