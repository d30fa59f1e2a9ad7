/**
 * What the benchmarks share: the median, a free loopback port, stopping a process they started, an nginx
 * configuration, a halt-on-error schedule.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** A free loopback port (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** Stops `p` (started by the benchmark, by its PID) with `signal`; SIGKILL after `killAfterMs`. */
export async function stop(p: Subprocess, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  const t = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
  await p.exited;
  clearTimeout(t);
}

/**
 * Writes `<work>/nginx.conf` (one worker in the foreground; pid, error log and temp files under `work`; no
 * access log; sendfile) with `http` (server blocks, more settings) in its `http` block, and returns the
 * command that runs nginx on it.
 */
export function nginxCommand(
  nginx: string,
  work: string,
  o: { connections: number; http: string },
): string[] {
  const tmp = join(work, "nginx-tmp");
  mkdirSync(tmp, { recursive: true });
  const conf = join(work, "nginx.conf");
  const errorLog = join(work, "nginx-error.log");
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
master_process on;
pid ${join(work, "nginx.pid")};
error_log ${errorLog} warn;
events { worker_connections ${o.connections}; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${o.http}
}
`,
  );
  return [nginx, "-c", conf, "-p", work, "-e", errorLog];
}

/** A group of `haltOnErrorConfig`'s schedule. */
export interface ScheduleGroup {
  name: string;
  canary_count?: number;
  wait_hours?: number;
}

/**
 * An `autoupdate_config` (agents and tools enabled) whose `regular` schedule is `groups`, halt-on-error,
 * every group's window opening every day at `hour` UTC.
 */
export function haltOnErrorConfig(hour: number, groups: ScheduleGroup[]) {
  const regular = groups.map((g) => ({ ...g, days: ["*"], start_hour: hour }));
  return {
    kind: "autoupdate_config",
    spec: {
      agents: { mode: "enabled", strategy: "halt-on-error", schedules: { regular } },
      tools: { mode: "enabled" },
    },
  };
}

/** An hour 12 hours away (UTC): windows that are closed now, so that groups start only by an operator `start`. */
export const farHour = () => (new Date().getUTCHours() + 12) % 24;
