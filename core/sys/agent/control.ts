/**
 * The control socket of a running `agent run` loop (`<ns>/agent.sock`): `agent update`, `pin`, `rollback`
 * and `uninstall` ask the loop instead of running a second updater beside it. One JSON line each way.
 */
import { unlinkSync } from "node:fs";
import { UpkeepError } from "../../errors.ts";

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
        connectError() {
          done(undefined);
        },
      },
    }).catch(() => done(undefined));
  });
}

export interface ControlServer {
  stop(): void;
}

/** Listens on the socket (removing a stale one); `handle` answers each request. */
export function listenControl(
  socket: string,
  handle: (req: ControlRequest) => Promise<ControlResponse>,
): ControlServer {
  try {
    unlinkSync(socket);
  } catch {}
  const server = Bun.listen<{ buf: string }>({
    unix: socket,
    socket: {
      open(s) {
        s.data = { buf: "" };
      },
      data(s, data) {
        s.data.buf += new TextDecoder().decode(data);
        const i = s.data.buf.indexOf("\n");
        if (i < 0) {
          if (s.data.buf.length > 4096) s.end();
          return;
        }
        let req: ControlRequest;
        try {
          req = JSON.parse(s.data.buf.slice(0, i)) as ControlRequest;
        } catch {
          s.end(`${JSON.stringify({ ok: false, error: { code: "E_MALFORMED", message: "bad request" } })}\n`);
          return;
        }
        s.data.buf = "";
        handle(req).then(
          (r) => s.end(`${JSON.stringify(r)}\n`),
          (e) =>
            s.end(
              `${JSON.stringify({ ok: false, error: { code: (e as { code?: string }).code ?? "E_INTERNAL", message: e instanceof Error ? e.message : String(e), ...((e as { hint?: string }).hint ? { hint: (e as { hint?: string }).hint } : {}) } })}\n`,
            ),
        );
      },
    },
  });
  return {
    stop: () => {
      server.stop(true);
      try {
        unlinkSync(socket);
      } catch {}
    },
  };
}
