/**
 * A hostile version server / mirror for the e2e tests: a proxy on 127.0.0.1 (Bun.serve, random port) in front
 * of a real `upkeep serve`, forwarding every request except those a rule matches, which it answers badly:
 *   - drip: a 200 whose body is one byte every `everyMs` (an idle timer restarted on every byte never fires):
 *     the upstream's own bytes, or filler forever;
 *   - endless: a 200 whose chunked body never ends, sent as fast as the client reads (a JSON opening, then
 *     filler).
 * Rules are matched on the path (first match wins) and can be changed between tests.
 * Also: `runMeasured`, the compiled upkeep run with its peak memory and time taken.
 */
import { readFileSync } from "node:fs";
import { collect, ROOT, type RunResult, UPKEEP } from "./cli.ts";

export type Misbehaviour =
  /** `real`: the upstream's own bytes (a slow mirror of the right file), else "A" forever. */
  { kind: "drip"; everyMs: number; real?: boolean } | { kind: "endless" };

export interface HostileServer {
  url: string;
  port: number;
  /** Paths requested, in order. */
  requests: string[];
  /** Bytes of misbehaving bodies sent so far. */
  sent: () => number;
  /** Answers the paths `match` accepts badly from now on. */
  misbehave(match: (path: string) => boolean, how: Misbehaviour): void;
  /** Back to forwarding everything. */
  clear(): void;
  stop(): void;
}

const FILLER = new TextEncoder().encode("x".repeat(64 * 1024));

function dripBody(
  everyMs: number,
  bytes: Uint8Array | undefined,
  count: (n: number) => void,
): ReadableStream<Uint8Array> {
  let stopped = false;
  let at = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      await Bun.sleep(everyMs);
      if (stopped) return;
      if (bytes && at >= bytes.length) return c.close();
      c.enqueue(bytes ? bytes.subarray(at, at + 1) : new Uint8Array([0x41]));
      at++;
      count(1);
    },
    cancel() {
      stopped = true;
    },
  });
}

function endlessBody(count: (n: number) => void): ReadableStream<Uint8Array> {
  let first = true;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      const chunk = first ? new TextEncoder().encode('{"agent_version":"') : FILLER;
      first = false;
      c.enqueue(chunk);
      count(chunk.length);
    },
  });
}

/** Starts the proxy in front of `upstream` (e.g. the real serve's URL). Stop it with `stop()`. */
export function startHostileServer(upstream: string): HostileServer {
  const rules: { match: (path: string) => boolean; how: Misbehaviour }[] = [];
  const requests: string[] = [];
  let sent = 0;
  const count = (n: number) => {
    sent += n;
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // A dripping answer must not be cut by the server's own idle timer.
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      requests.push(u.pathname);
      const rule = rules.find((r) => r.match(u.pathname));
      if (rule?.how.kind === "drip") {
        const real = rule.how.real
          ? new Uint8Array(await (await fetch(`${upstream}${u.pathname}${u.search}`)).arrayBuffer())
          : undefined;
        return new Response(dripBody(rule.how.everyMs, real, count), {
          headers: { "content-type": "application/octet-stream" },
        });
      }
      if (rule?.how.kind === "endless") {
        return new Response(endlessBody(count), { headers: { "content-type": "application/json" } });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      return await fetch(`${upstream}${u.pathname}${u.search}`, {
        method: req.method,
        headers,
        ...(hasBody ? { body: await req.arrayBuffer() } : {}),
        redirect: "manual",
      });
    },
  });
  const port = server.port ?? 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    sent: () => sent,
    misbehave(match, how) {
      rules.unshift({ match, how });
    },
    clear() {
      rules.length = 0;
    },
    stop() {
      server.stop(true);
    },
  };
}

/** The peak resident memory (VmHWM, bytes) of a running process, 0 once it is gone. */
export function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `dist/upkeep ARGS` like cli.ts's upkeep(), also noting its peak memory (polled) and how long it took.
 * A run still going after `limitMs` is killed (by its PID) and says so (`killed`): a hang is a failed
 * assertion of this test, not a test timeout that takes the other tests' processes with it.
 */
export async function runMeasured(
  args: string[],
  env: Record<string, string> = {},
  limitMs = 45_000,
): Promise<RunResult & { peakRss: number; ms: number; killed: boolean }> {
  const t0 = performance.now();
  const proc = Bun.spawn([UPKEEP, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let peak = 0;
  const poll = setInterval(() => {
    peak = Math.max(peak, peakRss(proc.pid));
  }, 10);
  const { timedOut, ...r } = await collect(proc, { ms: limitMs, signal: "SIGKILL" });
  clearInterval(poll);
  return { ...r, peakRss: peak, ms: performance.now() - t0, killed: timedOut };
}
