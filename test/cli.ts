/** Helpers for end-to-end tests: run the compiled `dist/upkeep` as a user would. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const UPKEEP = resolve(ROOT, "dist/upkeep");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dist/upkeep ARGS` and waits for it. `npm test` builds the binary before the e2e tests. */
export async function upkeep(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<RunResult> {
  if (!existsSync(UPKEEP)) throw new Error(`${UPKEEP} is missing: run \`npm run build\` first`);
  const proc = Bun.spawn([UPKEEP, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
