/** Readiness probes (an HTTP URL or a shell command, with a timeout) and the smoke test of a new binary. */
import { printsVersion } from "../../agent/health.ts";
import { UpkeepError } from "../../errors.ts";
import { errorCodeOf } from "../io_error.ts";

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** Runs argv with a time limit; kills it (SIGKILL) when over. */
export async function runWithTimeout(
  argv: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      proc.kill("SIGKILL");
    } catch {}
  }, timeoutMs);
  const read = async (s: ReadableStream<Uint8Array>) => {
    // Keep at most 64 KiB of output.
    let text = "";
    const dec = new TextDecoder();
    for await (const chunk of s) if (text.length < 65536) text += dec.decode(chunk, { stream: true });
    return text;
  };
  const [stdout, stderr, code] = await Promise.all([read(proc.stdout), read(proc.stderr), proc.exited]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr, timedOut };
}

export async function probeUrl(url: string, timeoutMs: number): Promise<ProbeResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    // Only the status counts: the body is never read (a daemon streaming an endless answer cannot hold it).
    await res.body?.cancel().catch(() => {});
    return res.ok
      ? { ok: true, detail: `${url} answered ${res.status}` }
      : { ok: false, detail: `${url} answered ${res.status}` };
  } catch (e) {
    const name = (e as { name?: string }).name;
    return {
      ok: false,
      detail: `${url}: ${name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : (errorCodeOf(e) ?? String(e))}`,
    };
  }
}

export async function probeCmd(cmd: string, timeoutMs: number): Promise<ProbeResult> {
  const r = await runWithTimeout(["/bin/sh", "-c", cmd], timeoutMs);
  if (r.timedOut) return { ok: false, detail: `health command did not finish in ${timeoutMs} ms` };
  if (r.code === 0) return { ok: true, detail: "health command exited 0" };
  return {
    ok: false,
    detail: `health command exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`,
  };
}

/**
 * Smoke test (DESIGN §6): `<daemon> version` must exit 0 within the time limit and print the version it
 * was installed as (a whole token: `11.2.3` is no proof of 1.2.3). Throws E_SMOKE naming the binary and what went wrong.
 */
export async function smokeTest(binary: string, version: string, timeoutMs: number): Promise<void> {
  let r: Awaited<ReturnType<typeof runWithTimeout>>;
  try {
    r = await runWithTimeout([binary, "version"], timeoutMs);
  } catch (e) {
    throw new UpkeepError(
      "E_SMOKE",
      `smoke test: cannot run ${binary} version: ${errorCodeOf(e) ?? String(e)}`,
    );
  }
  if (r.timedOut)
    throw new UpkeepError("E_SMOKE", `smoke test: ${binary} version did not finish in ${timeoutMs} ms`);
  if (r.code !== 0)
    throw new UpkeepError(
      "E_SMOKE",
      `smoke test: ${binary} version exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`,
    );
  const out = `${r.stdout}\n${r.stderr}`;
  if (!printsVersion(out, version))
    throw new UpkeepError(
      "E_SMOKE",
      `smoke test: ${binary} version printed ${JSON.stringify(r.stdout.trim().slice(0, 120))}, not ${version}`,
    );
}

export async function probe(spec: {
  healthUrl: string;
  healthCmd: string;
  healthTimeoutMs: number;
}): Promise<ProbeResult | undefined> {
  if (spec.healthUrl) return probeUrl(spec.healthUrl, spec.healthTimeoutMs);
  if (spec.healthCmd) return probeCmd(spec.healthCmd, spec.healthTimeoutMs);
  return undefined;
}
