/** Starts the compiled `upkeep serve` on a free loopback port and stops it by its PID. */
import type { Subprocess } from "bun";
import { UPKEEP } from "./cli.ts";

export interface ServeProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed on stdout so far (the admin token on first start). */
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then wait; returns the exit code. */
  stop: () => Promise<number>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.text += dec.decode(chunk, { stream: true });
}

export async function startServe(
  dataDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const proc = Bun.spawn([UPKEEP, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { text: "" };
  const err = { text: "" };
  void collect(proc.stdout, out);
  void collect(proc.stderr, err);
  const deadline = Date.now() + 10_000;
  let url = "";
  while (!url) {
    const m = /listening url=(http\S+)/.exec(err.text) ?? /"url":"(http[^"]+)"/.exec(err.text);
    if (m) url = m[1] as string;
    else if (proc.exitCode !== null) throw new Error(`upkeep serve exited ${proc.exitCode}: ${err.text}`);
    else if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`upkeep serve did not start: ${err.text}`);
    } else await Bun.sleep(20);
  }
  return {
    url,
    proc,
    stdout: () => out.text,
    stderr: () => err.text,
    stop: async () => {
      if (proc.exitCode === null) process.kill(proc.pid, "SIGTERM");
      return await proc.exited;
    },
  };
}
